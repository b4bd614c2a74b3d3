// parley-client.js — Parley's reusable browser client (protocol parley.v1).
//
//   import { ParleyClient } from "/parley-client.js";
//   const c = new ParleyClient({ transport: "websocket" });
//   c.addEventListener("transcript.final", (e) => console.log(e.detail.text));
//   await c.connect();
//
// Transports: WebRTC (default; Opus both ways, JSON on the "events" data
// channel) or WebSocket (/ws/voice; PCM16LE binary frames, JSON text). Both
// carry the same JSON events. See README.md for the events emitted.

/** The client protocol this module speaks. */
export const PROTOCOL = "parley.v1";

/** Transport names accepted by ParleyClient. */
export const TRANSPORTS = Object.freeze({ WEBRTC: "webrtc", WEBSOCKET: "websocket" });

const WS_PATH = "/ws/voice";
const WEBRTC_OFFER_PATH = "/v1/webrtc/offer";
const WEBRTC_ICE_SERVERS_PATH = "/v1/webrtc/ice-servers";
const DATA_CHANNEL_LABEL = "events";
const INPUT_RATE_HZ = 16000; // what the capture worklet sends on the WebSocket path
const FRAME_MS = 20;
const DEFAULT_OUTPUT_RATE_HZ = 24000;
const DEFAULT_PREBUFFER_MS = 80;
const LEVEL_POLL_MS = 50;
const STATS_POLL_MS = 200;
const ICE_GATHER_TIMEOUT_MS = 3000;
const AGENT_LEVEL_SPEAKING = 0.01; // RMS above which the agent is audibly speaking

/**
 * ParleyClient connects a browser to a Parley server, streams the microphone,
 * plays the agent's audio and re-emits every server event as a DOM event whose
 * `type` is the protocol event type and whose `detail` is the event object.
 *
 * Client-side events: "state" {state}, "mic.level" {rms}, "playback"
 * {playing, rms, energy, totalEnergy, playedMs}, "close" {code, reason},
 * "clienterror" {code, message} (local failures: microphone, network).
 */
export class ParleyClient extends EventTarget {
  /**
   * @param {object} [options]
   * @param {string} [options.server] base URL of the Parley server (default: this page's origin)
   * @param {"webrtc"|"websocket"} [options.transport] default "webrtc"
   * @param {object} [options.session] extra session.update fields (system_prompt, voice, tools, vad …)
   * @param {number} [options.outputSampleRate] agent audio rate asked for on WebSocket (Hz)
   * @param {number} [options.prebufferMs] playback jitter buffer on WebSocket (ms)
   * @param {MediaTrackConstraints} [options.audio] extra microphone constraints
   * @param {string} [options.apiKey] sent as ?token= (WebSocket) or Authorization: Bearer (WebRTC) when the server requires one
   * @param {() => Promise<string>} [options.getToken] called on every connect() for a short-lived client token
   *   (your backend mints it with POST /v1/tokens); takes precedence over apiKey, so a page never holds a long-lived secret
   * @param {"all"|"relay"} [options.iceTransportPolicy] WebRTC candidates to use; "relay" forces TURN (default "all")
   */
  constructor(options = {}) {
    super();
    this.server = (options.server || globalThis.location.origin).replace(/\/$/, "");
    this.transport = options.transport === TRANSPORTS.WEBSOCKET ? TRANSPORTS.WEBSOCKET : TRANSPORTS.WEBRTC;
    this.session = options.session || {};
    this.outputSampleRate = options.outputSampleRate || DEFAULT_OUTPUT_RATE_HZ;
    this.prebufferMs = options.prebufferMs || DEFAULT_PREBUFFER_MS;
    this.audioConstraints = options.audio || {};
    this.apiKey = options.apiKey || "";
    this.getToken = typeof options.getToken === "function" ? options.getToken : null;
    this.iceTransportPolicy = options.iceTransportPolicy === "relay" ? "relay" : "all";
    this._credential = this.apiKey;
    this.state = "idle";
    this.sessionId = "";
    this.ready = false; // session.updated received: audio flows
    this.totalEnergy = 0; // sum of squares of agent audio actually played
    this.playedMs = 0;
    this.agentPlaying = false;
    this._timers = [];
    this._teardown = [];
    this._gen = 0; // connection generation: disconnect() invalidates a connect() in progress
  }

  /** Opens the microphone and the transport; resolves once connected. */
  async connect() {
    if (this.state === "connecting" || this.state === "connected") return;
    this._setState("connecting");
    const gen = ++this._gen;
    try {
      if (this.getToken) {
        this._credential = await this.getToken();
        this._ensureCurrent(gen);
      }
      await this._openAudio();
      this._ensureCurrent(gen);
      if (this.transport === TRANSPORTS.WEBSOCKET) await this._connectWebSocket();
      else await this._connectWebRTC();
      this._ensureCurrent(gen);
      this._setState("connected");
    } catch (err) {
      if (gen === this._gen) {
        this._clientError("connect_failed", err && err.message ? err.message : String(err));
      }
      // Also when disconnect() ran meanwhile: release what was opened since.
      await this.disconnect();
      throw err;
    }
  }

  /** Closes the transport, the microphone and the audio graph. Safe to call at any time, more than once. */
  async disconnect() {
    this._gen++; // a connect() in progress stops at its next step
    // Forget the transport first: its own close callbacks then see that the
    // close was asked for and do nothing.
    this.ready = false;
    this._ws = null;
    this._dc = null;
    this._pc = null;
    this._player = null;
    for (const t of this._timers) clearInterval(t);
    this._timers = [];
    const steps = this._teardown.reverse();
    this._teardown = [];
    for (const fn of steps) {
      try {
        await fn();
      } catch (_) {
        // Best effort: keep tearing down the rest.
      }
    }
    if (this.state !== "closed") this._setState("closed");
  }

  _ensureCurrent(gen) {
    if (gen !== this._gen) throw new Error("disconnected while connecting");
  }

  /** Sends one client message (an object with a `type`). Returns false when not connected. */
  send(message) {
    const text = JSON.stringify(message);
    if (this._ws && this._ws.readyState === WebSocket.OPEN) {
      this._ws.send(text);
      return true;
    }
    if (this._dc && this._dc.readyState === "open") {
      this._dc.send(text);
      return true;
    }
    return false;
  }

  /** A typed user turn (skips speech recognition; interrupts a running reply). */
  sendText(text) {
    return this.send({ type: "input.text", text });
  }

  /** Stops the agent's current response. */
  cancelResponse() {
    this._flushPlayback();
    return this.send({ type: "response.cancel" });
  }

  /** Answers a client-side tool.call. */
  sendToolResult(callId, output, isError = false) {
    return this.send({ type: "tool.result", call_id: callId, output, is_error: isError });
  }

  /** Changes session settings (session.update fields). */
  updateSession(fields) {
    return this.send({ type: "session.update", ...fields });
  }

  // --- audio -----------------------------------------------------------

  async _openAudio() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("this browser cannot capture audio (getUserMedia is unavailable; use https or localhost)");
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1, ...this.audioConstraints },
        video: false,
      });
    } catch (err) {
      this._clientError("microphone", `microphone not available: ${err.message || err.name}`);
      throw err;
    }
    this._mic = stream;
    this._teardown.push(() => stream.getTracks().forEach((t) => t.stop()));

    const ctx = new AudioContext({ latencyHint: "interactive" });
    this._ctx = ctx;
    this._teardown.push(() => ctx.close());
    if (ctx.state === "suspended") await ctx.resume();

    const src = ctx.createMediaStreamSource(stream);
    const micAnalyser = ctx.createAnalyser();
    micAnalyser.fftSize = 1024;
    src.connect(micAnalyser);
    const buf = new Float32Array(micAnalyser.fftSize);
    this._timers.push(setInterval(() => {
      micAnalyser.getFloatTimeDomainData(buf);
      this._emit("mic.level", { rms: rms(buf) });
    }, LEVEL_POLL_MS));
    this._micSource = src;
  }

  async _startCaptureWorklet() {
    const ctx = this._ctx;
    await ctx.audioWorklet.addModule(new URL("./worklets/capture.js", import.meta.url));
    await ctx.audioWorklet.addModule(new URL("./worklets/player.js", import.meta.url));
    const capture = new AudioWorkletNode(ctx, "parley-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { targetRate: INPUT_RATE_HZ, frameSamples: (INPUT_RATE_HZ * FRAME_MS) / 1000 },
    });
    capture.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === "frame" && this.ready && this._ws && this._ws.readyState === WebSocket.OPEN) {
        this._ws.send(m.pcm);
      }
    };
    // A silent sink keeps the capture node pulled by the graph.
    const sink = ctx.createGain();
    sink.gain.value = 0;
    this._micSource.connect(capture);
    capture.connect(sink).connect(ctx.destination);
    this._teardown.push(() => {
      capture.port.postMessage({ type: "stop" });
      capture.disconnect();
    });

    const player = new AudioWorkletNode(ctx, "parley-player", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { streamRate: this.outputSampleRate, prebufferMs: this.prebufferMs },
    });
    const agentAnalyser = ctx.createAnalyser();
    agentAnalyser.fftSize = 1024;
    player.connect(agentAnalyser).connect(ctx.destination);
    const abuf = new Float32Array(agentAnalyser.fftSize);
    player.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === "flushed") {
        const afterMs = this._flushAskedAt ? performance.now() - this._flushAskedAt : 0;
        this._emit("playback.flushed", { droppedMs: m.droppedMs, afterMs });
        return;
      }
      if (m.type !== "stats") return;
      this.totalEnergy += m.energy;
      this.playedMs += (m.samples * 1000) / ctx.sampleRate;
      agentAnalyser.getFloatTimeDomainData(abuf);
      this._setAgentPlaying(m.playing);
      this._emit("playback", {
        playing: m.playing,
        rms: rms(abuf),
        energy: m.energy,
        totalEnergy: this.totalEnergy,
        playedMs: this.playedMs,
        queuedMs: m.queuedMs,
        underruns: m.underruns,
      });
    };
    this._player = player;
    this._teardown.push(() => player.disconnect());
  }

  _flushPlayback() {
    this._flushAskedAt = performance.now();
    if (this._player) this._player.port.postMessage({ type: "flush" });
  }

  _setAgentPlaying(playing) {
    if (playing === this.agentPlaying) return;
    this.agentPlaying = playing;
    this._emit("agent.speaking", { speaking: playing });
  }

  // --- WebSocket ---------------------------------------------------------

  async _connectWebSocket() {
    await this._startCaptureWorklet();
    const url = new URL(this.server + WS_PATH);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (this._credential) url.searchParams.set("token", this._credential);
    const ws = new WebSocket(url, PROTOCOL);
    ws.binaryType = "arraybuffer";
    this._ws = ws;
    await new Promise((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot open ${url.origin}${WS_PATH} (server down, refused, or over a limit)`));
    });
    ws.onerror = null;
    ws.onmessage = (m) => {
      if (m.data instanceof ArrayBuffer) {
        this._onAudio(m.data);
        return;
      }
      this._onText(m.data);
    };
    ws.onclose = (e) => {
      if (this._ws !== ws) return; // closed by disconnect()
      this._emit("close", { code: e.code, reason: e.reason });
      if (e.code !== 1000) {
        this._clientError("closed", `connection closed: ${e.code}${e.reason ? " " + e.reason : ""}`);
      }
      this.disconnect();
    };
    this._teardown.push(() => {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, "client left");
    });
  }

  _onAudio(data) {
    if (!this._player) return;
    const pcm = new Int16Array(data);
    const f = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) f[i] = pcm[i] / 0x8000;
    this._player.port.postMessage({ type: "push", samples: f, rate: this._streamRate || this.outputSampleRate }, [f.buffer]);
  }

  // --- WebRTC ------------------------------------------------------------

  /**
   * Fetches the server's ICE servers with fresh TURN credentials
   * (GET /v1/webrtc/ice-servers). A server without the route (404) has none
   * to offer: the connection then uses host candidates only, as before.
   */
  async _iceServers() {
    const headers = {};
    if (this._credential) headers.Authorization = `Bearer ${this._credential}`;
    let resp;
    try {
      resp = await fetch(this.server + WEBRTC_ICE_SERVERS_PATH, { headers, cache: "no-store" });
    } catch (err) {
      throw new Error(`cannot reach ${this.server}${WEBRTC_ICE_SERVERS_PATH} (server down, or it does not allow this page's origin): ${err.message}`);
    }
    if (resp.status === 404) return [];
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const e = body.error || {};
      throw new Error(`ICE servers refused (${resp.status}${e.code ? " " + e.code : ""}): ${e.message || resp.statusText}`);
    }
    const list = Array.isArray(body.ice_servers) ? body.ice_servers : [];
    return list
      .filter((s) => s && Array.isArray(s.urls) && s.urls.length > 0)
      .map((s) => {
        const server = { urls: s.urls };
        if (s.username) server.username = s.username;
        if (s.credential) server.credential = s.credential;
        return server;
      });
  }

  async _connectWebRTC() {
    const iceServers = await this._iceServers();
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: this.iceTransportPolicy });
    this._pc = pc;
    this._teardown.push(() => pc.close());
    for (const track of this._mic.getAudioTracks()) pc.addTrack(track, this._mic);

    const audio = new Audio();
    audio.autoplay = true;
    this._teardown.push(() => {
      audio.pause();
      audio.srcObject = null;
    });
    pc.ontrack = (e) => {
      audio.srcObject = e.streams[0] || new MediaStream([e.track]);
      audio.play().catch((err) => this._clientError("playback", `cannot play agent audio: ${err.message}`));
    };

    const dc = pc.createDataChannel(DATA_CHANNEL_LABEL, { ordered: true });
    this._dc = dc;
    const opened = new Promise((resolve, reject) => {
      dc.onopen = () => resolve();
      dc.onerror = (e) => reject(new Error(`data channel failed: ${e.error ? e.error.message : "error"}`));
    });
    dc.onmessage = (m) => {
      if (typeof m.data === "string") this._onText(m.data);
    };
    dc.onclose = () => {
      if (this._dc !== dc) return; // closed by disconnect()
      this._emit("close", { code: 1000, reason: "data channel closed" });
      this.disconnect();
    };
    pc.onconnectionstatechange = () => {
      if (this._pc === pc && pc.connectionState === "failed") {
        this._clientError("closed", "WebRTC connection failed");
        this.disconnect();
      }
    };

    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc, ICE_GATHER_TIMEOUT_MS);
    const headers = { "Content-Type": "application/json" };
    if (this._credential) headers.Authorization = `Bearer ${this._credential}`;
    let resp;
    try {
      resp = await fetch(this.server + WEBRTC_OFFER_PATH, {
        method: "POST",
        headers,
        body: JSON.stringify({ type: pc.localDescription.type, sdp: pc.localDescription.sdp }),
      });
    } catch (err) {
      throw new Error(`cannot reach ${this.server}${WEBRTC_OFFER_PATH} (server down, or it does not allow this page's origin): ${err.message}`);
    }
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const e = body.error || {};
      throw new Error(`WebRTC offer refused (${resp.status}${e.code ? " " + e.code : ""}): ${e.message || resp.statusText}`);
    }
    if (body.session_id) this.sessionId = body.session_id;
    await pc.setRemoteDescription({ type: body.type || "answer", sdp: body.sdp });
    await opened;

    this._timers.push(setInterval(() => this._pollInboundAudio(), STATS_POLL_MS));
  }

  async _pollInboundAudio() {
    if (!this._pc) return;
    const stats = await this._pc.getStats();
    stats.forEach((s) => {
      if (s.type !== "inbound-rtp" || s.kind !== "audio") return;
      const total = s.totalAudioEnergy || 0;
      const duration = s.totalSamplesDuration || 0;
      const level = s.audioLevel || 0;
      const prevTotal = this._rtcEnergy || 0;
      this._rtcEnergy = total;
      this.totalEnergy = total;
      const playing = level > AGENT_LEVEL_SPEAKING && total > prevTotal;
      if (playing) this.playedMs += STATS_POLL_MS;
      this._setAgentPlaying(playing);
      this._emit("playback", {
        playing,
        // audioLevel keeps its last value when packets stop (barge-in).
        rms: playing ? level : 0,
        energy: total - prevTotal,
        totalEnergy: total,
        playedMs: this.playedMs,
        samplesDurationS: duration,
      });
    });
  }

  // --- events ------------------------------------------------------------

  _onText(text) {
    let ev;
    try {
      ev = JSON.parse(text);
    } catch (_) {
      this._clientError("bad_event", "server sent invalid JSON");
      return;
    }
    switch (ev.type) {
      case "connection_established":
        this.sessionId = ev.session_id;
        this._sendSessionUpdate();
        break;
      case "session.updated":
        this.ready = true;
        if (ev.output_audio_format) this._streamRate = ev.output_audio_format.sample_rate;
        break;
      case "response.audio.started":
        if (ev.format && ev.format.sample_rate) this._streamRate = ev.format.sample_rate;
        break;
      case "response.interrupted":
        this._flushPlayback();
        break;
      case "response.done":
        if (this._player) this._player.port.postMessage({ type: "complete" });
        break;
    }
    this._emit(ev.type, ev);
    this._emit("message", ev);
  }

  _sendSessionUpdate() {
    const update = { type: "session.update", ...this.session };
    if (this.transport === TRANSPORTS.WEBSOCKET) {
      update.input_sample_rate = INPUT_RATE_HZ;
      update.output_sample_rate = this.outputSampleRate;
    }
    this.send(update);
  }

  _setState(state) {
    this.state = state;
    this._emit("state", { state });
  }

  _clientError(code, message) {
    this._emit("clienterror", { code, message });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function rms(buf) {
  let sum = 0;
  for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
  return Math.sqrt(sum / buf.length);
}

function iceGatheringComplete(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}
