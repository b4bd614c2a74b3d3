// Parley demo page: wires ParleyClient to the page and exposes a small test
// hook (window.parleyTest) so end-to-end tests read state without scraping.
//
// URL parameters: ?transport=webrtc|websocket preselects the transport;
// ?server=<base URL> talks to another Parley server; ?ice=relay forces TURN;
// ?echo_cancellation=off turns the browser's echo canceller off (headphones).

import { ParleyClient, TRANSPORTS } from "./parley-client.js";

const MAX_EVENTS_KEPT = 500;
const MAX_LATENCY_ROWS = 10;
const METER_FLOOR_DB = -60; // a level this low shows as an empty meter; 0 dBFS as full

const $ = (id) => document.getElementById(id);
const ui = {
  state: $("state"),
  connect: $("connect"),
  transportField: $("transport-field"),
  micLevel: $("mic-level"),
  agentLevel: $("agent-level"),
  speaking: $("speaking"),
  errors: $("errors"),
  log: $("log"),
  form: $("text-form"),
  input: $("text-input"),
  send: $("send"),
  tools: $("tools"),
  latency: document.querySelector("#latency tbody"),
};

/** State for tests (per connection; reset on connect); plain data only. */
const test = { state: "idle" };
window.parleyTest = test;

function resetTestState() {
  Object.assign(test, {
    transport: "",
    sessionId: "",
    partials: 0,
    finals: [],
    speechStarted: 0,
    agentDeltas: 0,
    agentTexts: [], // {id, text, status}
    audioStarted: 0,
    playedEnergy: 0,
    playedMs: 0,
    agentSpeakingSeen: false,
    flushes: 0,
    lastFlush: null, // {droppedMs, afterMs}
    interruptions: [],
    resumes: [], // {id, textPlayed}
    backchannels: [],
    turnEnds: [], // {decision, endpointMs}
    metrics: [],
    toolCalls: [],
    errors: [],
    events: [],
  });
}
resetTestState();

const params = new URLSearchParams(location.search);
if (params.get("transport") === TRANSPORTS.WEBSOCKET) {
  document.querySelector('input[name="transport"][value="websocket"]').checked = true;
}

let client = null;
let userSpeaking = false;
let agentSpeaking = false;
let partialItem = null;
const agentItems = new Map(); // response_id -> {li, text}
let turn = 0;

ui.connect.addEventListener("click", () => {
  if (client && (client.state === "connected" || client.state === "connecting")) {
    client.disconnect();
  } else {
    start();
  }
});

ui.form.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = ui.input.value.trim();
  if (!text || !client) return;
  if (client.sendText(text)) {
    finishPartial();
    addItem("user", text);
    test.finals.push(text);
    ui.input.value = "";
  } else {
    showError("not connected", "Connect first, then type.");
  }
});

async function start() {
  const transport = document.querySelector('input[name="transport"]:checked').value;
  ui.errors.textContent = "";
  resetTestState();
  agentItems.clear();
  partialItem = null;
  turn = 0;
  ui.latency.textContent = "";
  client = new ParleyClient({
    transport,
    server: params.get("server") || undefined,
    iceTransportPolicy: params.get("ice") === "relay" ? "relay" : "all",
    audio: params.get("echo_cancellation") === "off" ? { echoCancellation: false } : {},
  });
  test.transport = transport;
  wire(client);
  try {
    await client.connect();
  } catch (_) {
    // Already shown through the "clienterror" event.
  }
}

function wire(c) {
  c.addEventListener("state", (e) => setState(e.detail.state));
  c.addEventListener("clienterror", (e) => showError(e.detail.code, e.detail.message));
  c.addEventListener("mic.level", (e) => {
    ui.micLevel.value = meterValue(e.detail.rms);
  });
  c.addEventListener("playback", (e) => {
    const d = e.detail;
    ui.agentLevel.value = meterValue(d.rms);
    test.playedEnergy = d.totalEnergy;
    test.playedMs = d.playedMs;
  });
  c.addEventListener("playback.flushed", (e) => {
    test.flushes++;
    test.lastFlush = e.detail;
  });
  c.addEventListener("agent.speaking", (e) => {
    agentSpeaking = e.detail.speaking;
    if (agentSpeaking) test.agentSpeakingSeen = true;
    updateSpeaking();
  });
  c.addEventListener("message", (e) => {
    test.events.push(e.detail.type);
    if (test.events.length > MAX_EVENTS_KEPT) test.events.shift();
  });
  c.addEventListener("connection_established", (e) => {
    test.sessionId = e.detail.session_id;
    note(`Connected over ${c.transport === TRANSPORTS.WEBSOCKET ? "WebSocket" : "WebRTC"} — session ${e.detail.session_id}`);
  });
  c.addEventListener("vad.speech_started", () => {
    test.speechStarted++;
    userSpeaking = true;
    updateSpeaking();
  });
  c.addEventListener("vad.speech_stopped", () => {
    userSpeaking = false;
    updateSpeaking();
  });
  c.addEventListener("turn.ended", (e) => {
    const d = e.detail;
    test.turnEnds.push({ decision: d.decision, endpointMs: d.endpoint_delay_ms });
  });
  c.addEventListener("input.backchannel", (e) => {
    test.backchannels.push(e.detail.text);
    note(`Heard “${e.detail.text}” — an acknowledgement, not an interruption`);
  });
  c.addEventListener("transcript.partial", (e) => {
    test.partials++;
    if (!e.detail.text) return;
    if (!partialItem) partialItem = addItem("user partial", "");
    partialItem.textContent = e.detail.text;
  });
  c.addEventListener("transcript.final", (e) => {
    test.finals.push(e.detail.text);
    if (!partialItem) partialItem = addItem("user", "");
    partialItem.textContent = e.detail.text;
    partialItem.classList.remove("partial");
    partialItem = null;
  });
  c.addEventListener("response.text.delta", (e) => {
    test.agentDeltas++;
    const item = agentItem(e.detail.response_id);
    item.text += e.detail.delta;
    item.li.textContent = item.text;
    record(e.detail.response_id).text = item.text;
    scrollLog();
  });
  c.addEventListener("response.audio.started", () => {
    test.audioStarted++;
  });
  c.addEventListener("response.done", (e) => {
    const r = record(e.detail.response_id);
    r.status = e.detail.status;
    if (e.detail.text && !r.text) {
      agentItem(e.detail.response_id).li.textContent = e.detail.text;
      r.text = e.detail.text;
    }
  });
  c.addEventListener("response.interrupted", (e) => {
    const d = e.detail;
    test.interruptions.push({
      id: d.response_id, reason: d.reason, playedMs: d.played_ms, textPlayed: d.text_played, resumable: !!d.resumable,
    });
    record(d.response_id).status = d.resumable ? "paused" : "interrupted";
    const item = agentItems.get(d.response_id);
    if (item) {
      item.li.classList.remove("paused");
      item.li.classList.add(d.resumable ? "paused" : "interrupted");
      const played = d.text_played || "";
      item.li.textContent = "";
      if (played) item.li.append(played);
      const rest = item.text.startsWith(played) ? item.text.slice(played.length) : "";
      if (rest) {
        const s = document.createElement("span");
        s.className = "unplayed";
        s.textContent = rest;
        item.li.append(s);
      }
    }
    if (d.resumable) {
      note(`Agent paused after ${d.played_ms} ms of audio: it resumes if that was no words`);
      return;
    }
    const why = { barge_in: "you spoke over the agent", client_cancel: "cancelled", new_input: "new message" }[d.reason] || d.reason;
    note(`Agent interrupted (${why}) after ${d.played_ms} ms of audio`);
  });
  c.addEventListener("response.resumed", (e) => {
    const d = e.detail;
    test.resumes.push({ id: d.response_id, textPlayed: d.text_played });
    record(d.response_id).status = "resumed";
    const item = agentItems.get(d.response_id);
    if (item) {
      item.li.classList.remove("paused");
      item.li.textContent = item.text;
    }
    note("No words heard: the agent goes on from where it paused");
  });
  c.addEventListener("tool.call", (e) => {
    const d = e.detail;
    test.toolCalls.push({ name: d.name, arguments: d.arguments, location: d.location });
    const empty = ui.tools.querySelector(".empty");
    if (empty) empty.remove();
    const li = document.createElement("li");
    li.textContent = `${d.name}(${JSON.stringify(d.arguments)}) — ${d.location}`;
    ui.tools.append(li);
  });
  c.addEventListener("metrics", (e) => {
    const d = e.detail;
    test.metrics.push(d);
    turn++;
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = String(turn);
    tr.append(th);
    for (const v of [d.endpoint_delay_ms, d.stt_final_ms, d.llm_ttft_ms, d.tts_ttfa_ms, d.voice_to_voice_ms]) {
      const td = document.createElement("td");
      td.textContent = typeof v === "number" ? String(Math.round(v)) : "—";
      tr.append(td);
    }
    // The end-of-turn cell says what the detector made of the words.
    if (d.turn_decision) tr.cells[1].title = d.turn_decision + (d.preemptive ? ", LLM asked early" : "");
    ui.latency.prepend(tr);
    while (ui.latency.rows.length > MAX_LATENCY_ROWS) ui.latency.deleteRow(-1);
  });
  c.addEventListener("error", (e) => {
    const d = e.detail;
    showError(d.code, d.message);
  });
  c.addEventListener("close", (e) => {
    if (e.detail.code && e.detail.code !== 1000) note(`Connection closed (${e.detail.code}${e.detail.reason ? ": " + e.detail.reason : ""})`);
  });
}

// meterValue maps a linear level (0..1) to the meter on a dB scale.
function meterValue(level) {
  if (!(level > 0)) return 0;
  const db = 20 * Math.log10(level);
  return Math.max(0, Math.min(1, (db - METER_FLOOR_DB) / -METER_FLOOR_DB));
}

function setState(state) {
  test.state = state;
  ui.state.textContent = state;
  ui.state.dataset.state = state;
  const live = state === "connected" || state === "connecting";
  ui.connect.textContent = live ? "Disconnect" : "Connect";
  ui.connect.setAttribute("aria-pressed", String(live));
  ui.transportField.disabled = live;
  ui.input.disabled = state !== "connected";
  ui.send.disabled = state !== "connected";
  if (!live) {
    userSpeaking = false;
    agentSpeaking = false;
  }
  updateSpeaking();
}

function updateSpeaking() {
  let who = "none";
  let text = test.state === "connected" ? "Listening…" : "Not connected";
  if (userSpeaking) {
    who = "user";
    text = "You are speaking";
  } else if (agentSpeaking) {
    who = "agent";
    text = "Agent is speaking";
  }
  ui.speaking.dataset.who = who;
  ui.speaking.textContent = text;
}

function record(id) {
  let r = test.agentTexts.find((x) => x.id === id);
  if (!r) {
    r = { id, text: "", status: "streaming" };
    test.agentTexts.push(r);
  }
  return r;
}

function agentItem(id) {
  let item = agentItems.get(id);
  if (!item) {
    finishPartial();
    item = { li: addItem("agent", ""), text: "" };
    agentItems.set(id, item);
  }
  return item;
}

function finishPartial() {
  if (partialItem && !partialItem.textContent) partialItem.remove();
  partialItem = null;
}

function addItem(cls, text) {
  const li = document.createElement("li");
  li.className = cls;
  li.textContent = text;
  ui.log.append(li);
  scrollLog();
  return li;
}

function note(text) {
  addItem("note", text);
}

function scrollLog() {
  ui.log.scrollTop = ui.log.scrollHeight;
}

function showError(code, message) {
  test.errors.push({ code, message });
  const p = document.createElement("p");
  p.textContent = `Error (${code}): ${message}`;
  ui.errors.append(p);
}

setState("idle");
