"""Framework-free audio processing for recordings: decode, measure, segment, encode.

No Django here: plain functions over paths, numpy arrays and dataclasses, so
the pipeline can be tested and benchmarked on its own. Import the modules you
need (``from recordings.audio import decode``): this package deliberately
imports nothing, so the web process validating uploads (``decode`` only)
does not load numba, which ``envelope`` and ``segment`` need.

- ``decode``   probe, measure_duration, iter_pcm, decode_to_wav (pinned ffmpeg)
- ``quality``  QualityMeter, analyse_wav (metrics + envelope), assess
- ``envelope`` EnvelopeBuilder, speech_regions
- ``segment``  segment_speech / segment_envelope (script-aware chunking)
- ``encode``   flac_slice, iter_flac_chunks
- ``text``     split_sentences, estimate_script, length_bucket

A worker's use::

    seconds = decode.decode_to_wav(upload_path, wav_path, max_seconds=limit)
    analysis = quality.analyse_wav(wav_path)
    if reason := quality.assess(analysis.metrics, expected_duration=script_seconds): ...
    result = segment.segment_speech(analysis.envelope, sentences, language="bn")
    spans = [(s.start, s.end) for s in result.segments]
    for seg, flac in zip(result.segments, encode.iter_flac_chunks(wav_path, spans)): ...
"""
