// Parley capture worklet: turns the microphone (at the AudioContext's real
// rate, e.g. 44.1 or 48 kHz) into PCM16 frames at the target rate (16 kHz,
// 20 ms = 320 samples by default) and reports the input level.
//
// Resampling: a windowed-sinc low-pass (cut-off just under the target's
// Nyquist frequency) against aliasing, then linear interpolation at the
// fractional step inputRate / targetRate.

const FIR_TAPS = 31;
const CUTOFF_FRACTION = 0.45; // of the target rate: just below its Nyquist (0.5)
const LEVEL_REPORT_SECONDS = 0.05;

function lowPass(inRate, outRate) {
  if (outRate >= inRate) return null;
  const fc = (CUTOFF_FRACTION * outRate) / inRate; // cycles per input sample
  const m = (FIR_TAPS - 1) / 2;
  const h = new Float32Array(FIR_TAPS);
  let sum = 0;
  for (let n = 0; n < FIR_TAPS; n++) {
    const k = n - m;
    const sinc = k === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * k) / (Math.PI * k);
    const blackman = 0.42 - 0.5 * Math.cos((2 * Math.PI * n) / (FIR_TAPS - 1)) +
      0.08 * Math.cos((4 * Math.PI * n) / (FIR_TAPS - 1));
    h[n] = sinc * blackman;
    sum += h[n];
  }
  for (let n = 0; n < FIR_TAPS; n++) h[n] /= sum; // unity gain at DC
  return h;
}

class ParleyCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.outRate = o.targetRate || 16000;
    this.frameSamples = o.frameSamples || 320;
    this.step = sampleRate / this.outRate; // input samples per output sample
    this.fir = lowPass(sampleRate, this.outRate);
    this.hist = new Float32Array(FIR_TAPS);
    this.histPos = 0;
    this.prev = 0;
    this.t = 0; // position of the next output sample after `prev`, in input samples
    this.frame = new Int16Array(this.frameSamples);
    this.frameLen = 0;
    this.levelSum = 0;
    this.levelCount = 0;
    this.levelEvery = Math.round(sampleRate * LEVEL_REPORT_SECONDS);
    this.stopped = false;
    this.port.onmessage = (e) => {
      if (e.data && e.data.type === "stop") this.stopped = true;
    };
  }

  filter(x) {
    if (!this.fir) return x;
    this.hist[this.histPos] = x;
    let acc = 0;
    let idx = this.histPos;
    for (let n = 0; n < FIR_TAPS; n++) {
      acc += this.fir[n] * this.hist[idx];
      idx = idx === 0 ? FIR_TAPS - 1 : idx - 1;
    }
    this.histPos = (this.histPos + 1) % FIR_TAPS;
    return acc;
  }

  emit(v) {
    const s = v < -1 ? -1 : v > 1 ? 1 : v;
    this.frame[this.frameLen++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.frameLen === this.frameSamples) {
      this.port.postMessage({ type: "frame", pcm: this.frame.buffer }, [this.frame.buffer]);
      this.frame = new Int16Array(this.frameSamples);
      this.frameLen = 0;
    }
  }

  process(inputs) {
    if (this.stopped) return false;
    const ch = inputs[0] && inputs[0][0];
    if (!ch) return true;
    for (let i = 0; i < ch.length; i++) {
      const x = ch[i];
      this.levelSum += x * x;
      this.levelCount++;
      const y = this.filter(x);
      while (this.t < 1) {
        this.emit(this.prev + (y - this.prev) * this.t);
        this.t += this.step;
      }
      this.t -= 1;
      this.prev = y;
    }
    if (this.levelCount >= this.levelEvery) {
      this.port.postMessage({ type: "level", rms: Math.sqrt(this.levelSum / this.levelCount) });
      this.levelSum = 0;
      this.levelCount = 0;
    }
    return true;
  }
}

registerProcessor("parley-capture", ParleyCapture);
