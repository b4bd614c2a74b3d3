// Parley playback worklet: a jitter-tolerant queue of agent audio.
//
// The main thread posts PCM chunks (Float32, at the stream's rate); this
// processor plays them at the AudioContext's real rate (linear
// interpolation). Playback starts once `prebufferMs` is queued (or at once
// when the main thread says the response's audio is complete), so network
// jitter does not crackle; an underrun waits for the prebuffer again. A
// "flush" message drops everything queued at once (barge-in).
//
// Every ~50 ms it reports what was actually rendered: samples, energy (sum of
// squares) and whether it is playing.

const CAPACITY_SECONDS = 30;
const REPORT_SECONDS = 0.05;

class ParleyPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.inRate = o.streamRate || 24000;
    this.prebuffer = Math.round(((o.prebufferMs || 80) * this.inRate) / 1000);
    this.step = this.inRate / sampleRate;
    this.cap = Math.round(CAPACITY_SECONDS * this.inRate);
    this.buf = new Float32Array(this.cap);
    this.w = 0; // samples written (absolute)
    this.r = 0; // read position (absolute, fractional)
    this.playing = false;
    this.complete = false;
    this.renderedEnergy = 0;
    this.renderedSamples = 0;
    this.sinceReport = 0;
    this.reportEvery = Math.round(sampleRate * REPORT_SECONDS);
    this.underruns = 0;
    this.dropped = 0;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(m) {
    switch (m.type) {
      case "push": {
        const s = m.samples;
        if (m.rate && m.rate !== this.inRate) {
          // A new stream rate: start a fresh queue at that rate.
          this.inRate = m.rate;
          this.step = this.inRate / sampleRate;
          this.cap = Math.round(CAPACITY_SECONDS * this.inRate);
          this.buf = new Float32Array(this.cap);
          this.w = 0;
          this.r = 0;
        }
        for (let i = 0; i < s.length; i++) {
          if (this.w - this.r >= this.cap - 1) {
            this.r += 1; // overflow: drop the oldest sample
            this.dropped++;
          }
          this.buf[this.w % this.cap] = s[i];
          this.w++;
        }
        this.complete = false;
        break;
      }
      case "complete":
        this.complete = true;
        break;
      case "flush": {
        const dropped = Math.max(0, this.w - Math.floor(this.r));
        this.r = this.w;
        this.playing = false;
        this.complete = false;
        this.port.postMessage({ type: "flushed", droppedMs: (dropped * 1000) / this.inRate });
        this.report(true);
        break;
      }
      case "prebuffer":
        this.prebuffer = Math.round((m.ms * this.inRate) / 1000);
        break;
    }
  }

  report(force) {
    if (!force && this.sinceReport < this.reportEvery) return;
    this.port.postMessage({
      type: "stats",
      playing: this.playing,
      energy: this.renderedEnergy,
      samples: this.renderedSamples,
      queuedMs: ((this.w - this.r) * 1000) / this.inRate,
      underruns: this.underruns,
    });
    this.renderedEnergy = 0;
    this.renderedSamples = 0;
    this.sinceReport = 0;
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    const available = this.w - this.r;
    if (!this.playing && available > 0 && (available >= this.prebuffer || this.complete)) {
      this.playing = true;
    }
    let i = 0;
    if (this.playing) {
      for (; i < out.length; i++) {
        const k = Math.floor(this.r);
        if (k + 1 >= this.w) {
          // Underrun (or the end of the response's audio).
          if (!this.complete) this.underruns++;
          this.playing = false;
          this.r = Math.min(this.r, this.w);
          if (this.complete) this.r = this.w;
          break;
        }
        const frac = this.r - k;
        const a = this.buf[k % this.cap];
        const b = this.buf[(k + 1) % this.cap];
        const v = a + (b - a) * frac;
        out[i] = v;
        this.renderedEnergy += v * v;
        this.renderedSamples++;
        this.r += this.step;
      }
    }
    for (; i < out.length; i++) out[i] = 0;
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    this.sinceReport += out.length;
    this.report(false);
    return true;
  }
}

registerProcessor("parley-player", ParleyPlayer);
