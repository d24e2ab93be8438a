// Live input level from a MediaStream, with "too quiet" and "clipping" judgements.

const QUIET_DBFS = -42; // loudest moment of the last few seconds below this: too quiet
const QUIET_WINDOW_MS = 3000;
const CLIP_LEVEL = 0.985; // |sample| at full scale, allowing for resampling overshoot
const CLIP_FRAMES = 3; // frames with clipped samples within the window → warn
const CLIP_WINDOW_MS = 2000;
const FRAME_MS = 100;

const toDbfs = (value) => (value > 0 ? 20 * Math.log10(value) : -Infinity);

export class LevelMeter {
  /** onFrame receives {level: 0..1 for display, dbfs, quiet, clipping}. */
  constructor(stream, onFrame) {
    const Context = window.AudioContext || window.webkitAudioContext;
    this.context = new Context();
    this.source = this.context.createMediaStreamSource(stream);
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 2048;
    this.source.connect(this.analyser);
    this.buffer = new Float32Array(this.analyser.fftSize);
    this.onFrame = onFrame;
    this.history = [];
    this.active = false;
    // A timer, not requestAnimationFrame: ten updates a second is plenty for a
    // meter and saves battery on cheap phones.
    this.timer = setInterval(() => this.measure(), FRAME_MS);
  }

  /** Judge quietness and clipping only while actually recording. */
  setActive(active) {
    this.active = active;
    this.history = [];
  }

  measure() {
    this.analyser.getFloatTimeDomainData(this.buffer);
    let sum = 0;
    let peak = 0;
    for (const sample of this.buffer) {
      sum += sample * sample;
      peak = Math.max(peak, Math.abs(sample));
    }
    const rms = Math.sqrt(sum / this.buffer.length);
    const dbfs = toDbfs(rms);
    const now = performance.now();
    let quiet = false;
    let clipping = false;
    if (this.active) {
      this.history.push({ at: now, dbfs, clipped: peak >= CLIP_LEVEL });
      this.history = this.history.filter((frame) => now - frame.at <= QUIET_WINDOW_MS);
      const span = this.history.length ? now - this.history[0].at : 0;
      quiet = span >= QUIET_WINDOW_MS - 2 * FRAME_MS && Math.max(...this.history.map((f) => f.dbfs)) < QUIET_DBFS;
      clipping = this.history.filter((f) => f.clipped && now - f.at <= CLIP_WINDOW_MS).length >= CLIP_FRAMES;
    }
    // -60..0 dBFS onto 0..1: speech at a good distance sits in the upper half.
    const level = Math.min(1, Math.max(0, (dbfs + 60) / 60));
    this.onFrame({ level, dbfs, quiet, clipping });
  }

  close() {
    clearInterval(this.timer);
    this.source.disconnect();
    this.context.close().catch(() => {});
  }
}
