// A Realtime app written against the official `openai` npm package, run
// by realtime_test.go against the real Parley binary. It prints one JSON
// line per server event it receives (audio replaced by its byte count)
// and exits non-zero on an SDK error or a timeout.
//
// usage: node realtime_client.cjs <scenario> [pcm24k-file...]
// Scenario "browser" is the text turn through the SDK's browser client
// (OpenAIRealtimeWebSocket: the API key goes in the
// openai-insecure-api-key.<key> subprotocol); on Node 20 it needs
// --experimental-websocket for a global WebSocket.
// env: PARLEY_BASE_URL (https://127.0.0.1:port/v1), OPENAI_API_KEY,
//      NODE_EXTRA_CA_CERTS (the test's throwaway CA).
'use strict';
const fs = require('node:fs');
const { OpenAI } = require('openai');
const { OpenAIRealtimeWS } = require('openai/realtime/ws');
const { OpenAIRealtimeWebSocket } = require('openai/realtime/websocket');

const browser = process.argv[2] === 'browser';
const scenario = browser ? 'text' : process.argv[2];
const files = process.argv.slice(3);
const CHUNK_MS = 100;
const BYTES_PER_MS = 48; // 24 kHz × 2 bytes
const TIMEOUT_MS = 90000;

const client = new OpenAI({ baseURL: process.env.PARLEY_BASE_URL });
let rt;

function log(ev) {
  const out = { ...ev };
  if (typeof out.delta === 'string' && out.type === 'response.output_audio.delta') {
    out.delta_bytes = Buffer.from(out.delta, 'base64').length;
    delete out.delta;
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

function finish(code) {
  try { rt.close(); } catch (e) { /* closing anyway */ }
  setTimeout(() => process.exit(code), 200);
}

// stream sends a 24 kHz PCM16 file at real time in 100 ms chunks, then
// `silenceMs` of silence, and resolves when all is sent.
function stream(pcm, silenceMs) {
  const all = Buffer.concat([pcm, Buffer.alloc(silenceMs * BYTES_PER_MS)]);
  const step = CHUNK_MS * BYTES_PER_MS;
  let off = 0;
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (off >= all.length) { clearInterval(t); resolve(); return; }
      rt.send({ type: 'input_audio_buffer.append', audio: all.subarray(off, off + step).toString('base64') });
      off += step;
    }, CHUNK_MS);
  });
}

function userText(text) {
  rt.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
}

async function main() {
  if (browser) {
    rt = await OpenAIRealtimeWebSocket.create(client, { model: 'gpt-realtime', dangerouslyAllowBrowser: true });
    rt.socket.addEventListener('open', () => log({ type: 'client.opened', message: rt.socket.protocol }));
    rt.socket.addEventListener('close', (ev) => log({ type: 'client.closed', code: ev.code }));
  } else {
    rt = await OpenAIRealtimeWS.create(client, { model: 'gpt-realtime' });
    rt.socket.on('close', (code) => log({ type: 'client.closed', code }));
  }
  setTimeout(() => { log({ type: 'client.timeout' }); finish(2); }, TIMEOUT_MS).unref();
  rt.on('error', (err) => { log({ type: 'client.sdk_error', message: String(err && err.message), error: err && err.error }); });
  const responses = [];
  let audioBytes = 0;
  let bargedIn = false;
  let sentTruncate = false;
  let currentItem = null;

  rt.on('event', (ev) => {
    log(ev);
    switch (ev.type) {
      case 'session.created':
        rt.send({
          type: 'session.update',
          session: {
            type: 'realtime',
            instructions: 'You are a test agent.',
            output_modalities: ['audio'],
            audio: {
              input: {
                format: { type: 'audio/pcm', rate: 24000 },
                transcription: { model: 'whisper-1' },
                turn_detection: scenario === 'ptt' ? null : { type: 'server_vad', threshold: 0.5, silence_duration_ms: 700 },
              },
              // An OpenAI voice name, as an unchanged app sends it.
              output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy' },
            },
            tools: scenario === 'function' ? [{
              type: 'function', name: 'get_current_time', description: 'The current time',
              parameters: { type: 'object', properties: {} },
            }] : [],
            tool_choice: 'auto',
          },
        });
        break;
      case 'session.updated':
        if (scenario === 'text') { userText('hello'); rt.send({ type: 'response.create' }); }
        if (scenario === 'function') { userText('what time is it'); rt.send({ type: 'response.create' }); }
        if (scenario === 'audio') { stream(fs.readFileSync(files[0]), 1500); }
        if (scenario === 'ptt') {
          stream(fs.readFileSync(files[0]), 300).then(() => {
            rt.send({ type: 'input_audio_buffer.commit' });
            rt.send({ type: 'response.create' });
          });
        }
        if (scenario === 'bargein') { userText('what can you do'); rt.send({ type: 'response.create' }); }
        break;
      case 'response.output_item.added':
        if (ev.item.type === 'message') { currentItem = ev.item.id; audioBytes = 0; }
        break;
      case 'response.output_audio.delta':
        audioBytes += Buffer.from(ev.delta, 'base64').length;
        // Barge in once a second of the answer has arrived.
        if (scenario === 'bargein' && !bargedIn && audioBytes >= 1000 * BYTES_PER_MS) {
          bargedIn = true;
          stream(fs.readFileSync(files[0]), 1500);
        }
        break;
      case 'input_audio_buffer.speech_started':
        // As a player does: stop playing and say how much was heard.
        if (scenario === 'bargein' && bargedIn && !sentTruncate && currentItem) {
          sentTruncate = true;
          rt.send({ type: 'conversation.item.truncate', item_id: currentItem, content_index: 0, audio_end_ms: 800 });
        }
        break;
      case 'response.function_call_arguments.done':
        rt.send({
          type: 'conversation.item.create',
          item: { type: 'function_call_output', call_id: ev.call_id, output: JSON.stringify({ time: '2026-12-02T15:04:05Z' }) },
        });
        rt.send({ type: 'response.create' });
        break;
      case 'response.done':
        responses.push(ev.response);
        if (scenario === 'text' || scenario === 'audio' || scenario === 'ptt') finish(0);
        if (scenario === 'function' && responses.length === 2) finish(0);
        if (scenario === 'bargein' && responses.length === 2) finish(0);
        break;
      default:
    }
  });
}

main().catch((err) => { log({ type: 'client.fatal', message: String(err && err.stack) }); process.exit(1); });
