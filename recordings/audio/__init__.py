"""Framework-free audio processing for recordings: decode, measure, segment, encode.

No Django here: plain functions over paths, numpy arrays and dataclasses, so
the pipeline can be tested and benchmarked on its own. Import the modules you
need (``from recordings.audio import decode``): this package deliberately
imports nothing, so the web process validating uploads (``decode`` only)
loads no more than it needs. The numeric kernels of ``envelope``, ``quality``
and ``segment`` come compiled ahead of time (``kernels``, ``aot``), else from
numba.

- ``decode``   probe, measure_duration, decode_to_wav (pinned ffmpeg): the upload check
- ``libav``    iter_pcm: in-process decoding for the worker (a long file's
               second half in a child process beside it)
- ``analysis`` decode_and_analyse: one decode pass that writes the WAV and
               measures quality and the envelope as the blocks stream in
- ``quality``  QualityMeter (level, clipping, speech, SNR), assess
- ``envelope`` EnvelopeBuilder, speech_regions
- ``segment``  segment_speech (script-aware chunking)
- ``encode``   iter_flac_chunks (flac_slice for one)
- ``text``     split_sentences, estimate_script, length_bucket
- ``kernels``  the numeric kernels: compiled ahead of time if up to date, else numba
- ``aot``      ``python -m recordings.audio.aot`` compiles them (make, the image's build)
- ``warm``     ``python -m recordings.audio.warm`` runs them all once (fills numba's cache)

The worker's use (``recordings.services.recording_process``)::

    measured = analysis.decode_and_analyse(upload_path, wav_path, max_seconds=limit)
    if reason := quality.assess(measured.metrics, expected_duration=script_seconds): ...
    cut = segment.segment_speech(measured.envelope, sentences, language="bn")
    spans = [(seg.start, seg.end) for seg in cut.segments]  # seg.sentence: its index
    for flac in encode.iter_flac_chunks(wav_path, spans): ...  # a few threads, every n-th span
"""
