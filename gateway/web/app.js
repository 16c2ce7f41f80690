// Parley in the browser: one WebSocket per session, microphone in, speech out.
// No build step: an ES module served as is. The public hook is `window.parley` (docs/web.md).

const EMOTIONS = ["neutral", "happy", "sad", "angry", "anxious", "surprised", "disgusted", "fearful"];
const TEXT = {
  ko: {
    uiLanguage: "화면 언어", setupTitle: "연습할 대화를 고르세요", scenario: "시나리오", language: "대화 언어",
    useMic: "마이크로 말하기",
    recordAudio: "내 답변을 녹음해서 리포트에서 다시 듣기 (세션을 지우면 함께 지워져요)",
    recordingOn: "답변을 녹음하고 있어요", recordingOff: "녹음하지 않아요", start: "시작하기", youSpeak: "말하는 중…", aiSpeaks: "상대가 말하는 중…",
    rapport: "친밀도", emotion: "지금 기분", typeHere: "메시지 입력", send: "보내기", micOn: "마이크 켜기",
    micOff: "마이크 끄기", stopReply: "답변 멈추기", end: "대화 끝내기", report: "리포트", again: "새로 시작",
    progress: "연습 기록 보기", progressTitle: "연습 기록", back: "돌아가기",
    connecting: "연결 중…", connected: "연결됨", reconnecting: "연결이 끊겼어요. 다시 연결하는 중…",
    reconnected: "다시 연결되었어요.", micListening: "🎙 듣는 중", micOffState: "🎙 꺼짐",
    micDenied: "마이크 사용이 거부되었어요. 브라우저 설정에서 허용하거나, 아래에 글로 입력해 주세요.",
    micMissing: "마이크를 찾을 수 없어요. 글로 입력해 주세요.", serverError: "서버 오류", ending: "리포트를 만드는 중…",
    voiceBrowser: "🔊 브라우저 음성", voiceServer: "🔊 서버 음성", voiceLastResort: "(기계음: 이 브라우저에 한국어 음성이 없어요)",
    voiceNone: "🔇 음성 없음", waited: (s) => `${s}초 뒤 응답`,
    fillers: "군말", pace: "속도", politeness: "공손함", onHold: "상대가 대화를 끝냈어요.", escalated:
      "지금 많이 힘드시다면 자살예방상담전화 109로 바로 연락해 주세요. 상담 선생님께도 알렸어요.",
    emotions: {neutral: "보통", happy: "기쁨", sad: "슬픔", angry: "화남", anxious: "불안", surprised: "놀람",
               disgusted: "불쾌", fearful: "두려움"}, you: "나", ai: "상대",
  },
  en: {
    uiLanguage: "Language", setupTitle: "Choose a conversation to practise", scenario: "Scenario",
    language: "Conversation language", useMic: "Speak with the microphone",
    recordAudio: "Record my answers to hear them in the report (deleted with the session)",
    recordingOn: "Your answers are being recorded", recordingOff: "Not recording", start: "Start",
    youSpeak: "You're speaking…", aiSpeaks: "Speaking…", rapport: "Rapport", emotion: "How you feel",
    typeHere: "Type a message", send: "Send", micOn: "Microphone on", micOff: "Microphone off",
    stopReply: "Stop the reply", end: "End the conversation", report: "Report", again: "Start again",
    progress: "See your progress", progressTitle: "Your progress", back: "Back",
    connecting: "Connecting…", connected: "Connected", reconnecting: "Connection lost. Reconnecting…",
    reconnected: "Reconnected.", micListening: "🎙 listening", micOffState: "🎙 off",
    micDenied: "Microphone access was refused. Allow it in your browser settings, or type below.",
    micMissing: "No microphone was found. You can type instead.", serverError: "Server error",
    voiceBrowser: "🔊 Browser voice", voiceServer: "🔊 Server voice", voiceLastResort: "(robotic: this browser has no voice for the language)",
    voiceNone: "🔇 No voice", waited: (s) => `replied after ${s} s`,
    ending: "Preparing your report…", fillers: "Fillers", pace: "Pace", politeness: "Politeness",
    onHold: "The other person ended the conversation.", escalated:
      "If you are struggling, please call or text 988 (US) or 109 (Korea) now. A counselor has been told.",
    emotions: {neutral: "Neutral", happy: "Happy", sad: "Sad", angry: "Angry", anxious: "Anxious",
               surprised: "Surprised", disgusted: "Disgusted", fearful: "Afraid"}, you: "You", ai: "Them",
  },
};

const $ = (id) => document.getElementById(id);
// The token arrives in the fragment (#token=..., never sent to the server) or, from old
// links, the query; it is kept for this tab only and taken out of the address bar at once.
// It then travels only in headers: Authorization for HTTP, Sec-WebSocket-Protocol for the socket.
const fromUrl = new URLSearchParams(location.hash.slice(1)).get("token")
  || new URLSearchParams(location.search).get("token");
if (fromUrl) {
  sessionStorage.setItem("parley.token", fromUrl);
  history.replaceState(null, "", location.pathname);
}
const token = sessionStorage.getItem("parley.token");
const authHeaders = (headers = {}) => (token ? {...headers, authorization: `Bearer ${token}`} : headers);
const socketProtocols = () => (token ? ["parley.v1", `bearer.${token}`] : ["parley.v1"]);

const state = {
  ui: localStorage.getItem("parley.ui") || ((navigator.language || "ko").startsWith("ko") ? "ko" : "en"),
  sessionId: null, language: "ko", scenarios: [], ws: null, ended: false, retries: 0,
  emotion: "neutral", mic: null, micWanted: false, player: null, aiBubble: null, lastUserBubble: null,
  voice: null, speech: null, openingAsked: false, waitFrom: null, waitBubble: null, micClock: [],
  stats: {transcripts: 0, replies: 0, audioChunksPlayed: 0, audioMsScheduled: 0, feedback: 0,
          micBytesSent: 0, micPeak: 0, sentencesSpoken: 0, lastWaitMs: 0},
};
const t = (key) => TEXT[state.ui][key] ?? key;

// ------------------------------------------------------------------ UI text

function applyLabels() {
  document.documentElement.lang = state.ui;
  $("ui-language").value = state.ui;
  // The conversation follows the page's language until the user picks one (remembered).
  $("language").value = localStorage.getItem("parley.language") || state.ui;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  renderScenarios();
  renderEmotions();
  renderMicState();
}

function notice(message, kind = "warn") {
  const el = $("notice");
  el.textContent = message;
  el.className = `notice ${kind === "error" ? "error" : ""}`;
  el.hidden = !message;
}

function status(message) { $("status").textContent = message; }

function addLine(kind, text) {
  const li = document.createElement("li");
  li.className = kind;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  li.append(body);
  $("log").append(li);
  li.scrollIntoView({block: "nearest"});
  return li;
}

// ------------------------------------------------------------------ scenarios and emotions

async function loadScenarios() {
  const response = await fetch("/scenarios", {headers: authHeaders()});
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  state.scenarios = (await response.json()).scenarios;
  renderScenarios();
}

function renderScenarios() {
  const select = $("scenario");
  const chosen = select.value || "counseling";
  select.replaceChildren(...state.scenarios.map((s) => new Option(s.title[state.ui], s.id)));
  select.value = state.scenarios.some((s) => s.id === chosen) ? chosen : "counseling";
  const scenario = state.scenarios.find((s) => s.id === select.value);
  $("scenario-goal").textContent = scenario ? scenario.goal[state.ui] : "";
  // Recording is offered for rehearsal only: counseling is never recorded.
  $("record-box").hidden = !scenario || scenario.kind === "counseling";
  if ($("record-box").hidden) $("record-audio").checked = false;
}

function renderEmotions() {
  $("emotions").replaceChildren(...EMOTIONS.map((name) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = t("emotions")[name];
    button.dataset.emotion = name;
    button.setAttribute("aria-pressed", String(name === state.emotion));
    button.addEventListener("click", () => setEmotion(name, 1.0));
    return button;
  }));
}

/** The hook for a face-emotion model: window.parley.setEmotion("sad", 0.8). */
function setEmotion(emotion, confidence = 1.0) {
  if (!EMOTIONS.includes(emotion)) throw new Error(`unknown emotion ${emotion}`);
  state.emotion = emotion;
  for (const b of $("emotions").children) b.setAttribute("aria-pressed", String(b.dataset.emotion === emotion));
  send("emotion_update", {emotion, confidence});
}

// ------------------------------------------------------------------ the socket

function send(type, data = {}) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify({type, data}));
}

function connect() {
  status(t("connecting"));
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/session/${state.sessionId}`, socketProtocols());
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  ws.addEventListener("open", () => {
    status(t("connected"));
    if (state.retries > 0) notice(t("reconnected"));
    state.retries = 0;
    send("emotion_update", {emotion: state.emotion, confidence: 1.0});
    if (state.mic) sendAudioConfig();
  });
  ws.addEventListener("message", (message) => {
    if (typeof message.data === "string") onEvent(JSON.parse(message.data));
    else state.player?.play(message.data);
  });
  ws.addEventListener("close", (closed) => {
    if (state.ended || state.ws !== ws) return;
    // 4423: the session is still live on another gateway process (its lease runs out): retry.
    if (closed.code >= 4400 && closed.code < 4500 && closed.code !== 4423) {
      notice(`${t("serverError")}: ${closed.reason}`, "error");
      return;
    }
    state.retries += 1;
    notice(t("reconnecting"));
    status(t("reconnecting"));
    setTimeout(connect, Math.min(8000, 500 * 2 ** state.retries));
  });
}

function onEvent({type, data}) {
  switch (type) {
    case "transcript":
      state.stats.transcripts += 1;
      state.lastUserBubble = addLine("you", data.text);
      break;
    case "ai_stream_begin":
      state.aiBubble = addLine("ai", "");
      state.waitBubble = state.aiBubble;
      break;
    case "ai_stream_chunk":
      if (!state.aiBubble) state.aiBubble = addLine("ai", "");
      state.aiBubble.querySelector(".text").textContent += data.chunk;
      if (!state.voice || state.voice.mode === "none") heardReply();  // no voice: the text is the reply
      break;
    case "ai_stream_complete":
      state.stats.replies += 1;
      state.aiBubble = null;
      break;
    case "ai_stream_error":
      addLine("system", data.error);
      state.aiBubble = null;
      if (data.code === "session_on_hold") notice(t("onHold"));
      break;
    case "speech_started":
      $("speaking").hidden = false;
      break;
    case "tts_pause":
      // The user talks over the reply: silence it at once. The gateway either resumes it
      // (tts_resume: a backchannel, a cough) or cuts it (tts_end, interrupted).
      state.player?.stop();
      state.speech?.pause();
      break;
    case "tts_resume":
      state.speech?.resume();  // server audio simply arrives again
      break;
    case "speech_stopped":
      $("speaking").hidden = true;
      state.waitFrom = micTime(data.end_ms);  // where the user's words ended, on this clock
      break;
    case "voice_selected":
      showVoice(data);
      break;
    case "recording":
      notice(data.enabled ? t("recordingOn") : `${t("recordingOff")}: ${data.reason}`, "info");
      break;
    case "tts_begin":
      state.player?.begin(data.sample_rate);
      if (data.turn) heardReply();
      break;
    case "tts_sentence":
      state.speech?.say(data);
      break;
    case "tts_end":
      if (data.interrupted) { state.player?.stop(); state.speech?.stop(); }
      break;
    case "rapport":
      showRapport(data);
      if (data.on_hold) notice(t("onHold"));
      break;
    case "feedback":
      state.stats.feedback += 1;
      showFeedback(data);
      break;
    case "escalation":
      notice(t("escalated"), "error");
      break;
    case "session_report":
      showReport();
      break;
    case "error":
      notice(`${t("serverError")}: ${data.error}`, "error");
      break;
    default:
      break;  // events this page does not show
  }
}

/** How long the user waited: from the end of their words (or pressing send) to the reply
 * starting to sound (or, without a voice, to its first text). */
function heardReply() {
  const bubble = state.waitBubble;
  if (!bubble || state.waitFrom === null) return;
  state.waitBubble = null;
  const waited = performance.now() - state.waitFrom;
  state.waitFrom = null;
  state.stats.lastWaitMs = Math.round(waited);
  const note = document.createElement("small");
  note.className = "wait";
  note.textContent = t("waited")((waited / 1000).toFixed(1));
  bubble.append(note);
}

/** performance.now() when the microphone audio at stream position `ms` was sent. */
function micTime(ms) {
  const sample = state.micClock.find(([streamMs]) => streamMs >= ms);
  return sample ? sample[1] : performance.now();
}

function showVoice(voice) {
  state.voice = voice;
  const pill = $("voice");
  pill.hidden = false;
  if (voice.mode === "browser") {
    pill.textContent = `${t("voiceBrowser")}: ${state.speech?.voiceName(voice.language) ?? ""}`;
  } else if (voice.mode === "server") {
    pill.textContent = `${t("voiceServer")}: ${voice.engine}${voice.natural ? "" : ` ${t("voiceLastResort")}`}`;
  } else {
    pill.textContent = t("voiceNone");
  }
  pill.title = voice.reason;
}

function showRapport({value, stage}) {
  $("rapport-box").hidden = false;
  $("rapport").value = value;
  $("rapport-stage").textContent = `${stage}/5`;
}

function showFeedback(feedback) {
  if (state.kind === "counseling") return;  // a distressed client is not being graded
  const bubble = state.lastUserBubble;
  if (!bubble) return;
  bubble.querySelector(".chips")?.remove();
  const chips = document.createElement("div");
  chips.className = "chips";
  const fillers = feedback.metrics.fillers.fillers.length;  // only confident ones are reported
  const items = [[t("fillers"), fillers, feedback.scores.fillers]];
  const pace = feedback.metrics.pace;
  if (pace && pace.articulation_rate) items.push([t("pace"), `${Math.round(pace.articulation_rate * 10) / 10} ${pace.unit}`, feedback.scores.pace]);
  if (feedback.scores.politeness !== null) items.push([t("politeness"), feedback.scores.politeness, feedback.scores.politeness]);
  for (const [label, value, score] of items) {
    const chip = document.createElement("span");
    chip.className = `chip ${score === null || score >= 85 ? "good" : "work"}`;
    chip.textContent = `${label} ${value}`;
    chip.title = Object.values(feedback.tips)[0] || "";
    chips.append(chip);
  }
  bubble.append(chips);
}

// ------------------------------------------------------------------ audio out

class Player {
  constructor() {
    this.context = new AudioContext();
    this.rate = 22050;
    this.next = 0;
    this.sources = new Set();
  }
  begin(rate) {
    this.rate = rate;
    this.context.resume();
    $("ai-speaking").hidden = false;
  }
  play(buffer) {
    const samples = new Int16Array(buffer);
    if (!samples.length) return;
    const audio = this.context.createBuffer(1, samples.length, this.rate);
    const channel = audio.getChannelData(0);
    for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
    const source = this.context.createBufferSource();
    source.buffer = audio;
    source.connect(this.context.destination);
    this.next = Math.max(this.next, this.context.currentTime + 0.02);  // gap-free: back to back
    source.start(this.next);
    this.next += audio.duration;
    this.sources.add(source);
    state.stats.audioChunksPlayed += 1;
    state.stats.audioMsScheduled += audio.duration * 1000;
    source.addEventListener("ended", () => {
      this.sources.delete(source);
      if (!this.sources.size) $("ai-speaking").hidden = true;
    });
  }
  stop() {
    for (const source of this.sources) source.stop();
    this.sources.clear();
    this.next = 0;
    $("ai-speaking").hidden = true;
  }
}

// ------------------------------------------------------------------ speech in the browser

const LOCALES = {ko: "ko-KR", en: "en-US"};
const GOOD_VOICE = /natural|neural|premium|enhanced|google|siri|yuna|heami|sunhi|injoon/i;

/** Speaks `tts_sentence` events with the Web Speech API, where the gateway has no natural
 * voice for the language, and tells the gateway what it has spoken (`tts_spoken`). */
class BrowserSpeech {
  constructor(synth) {
    this.synth = synth;
    this.generation = 0;  // moves on every stop: a stopped sentence's events are ignored
    this.pending = 0;
  }
  static async create() {
    const synth = window.speechSynthesis;
    if (!synth) return null;
    if (!synth.getVoices().length) {  // Chrome loads its voices asynchronously
      await new Promise((resolve) => {
        synth.addEventListener?.("voiceschanged", resolve, {once: true});
        setTimeout(resolve, 1000);
      });
    }
    return new BrowserSpeech(synth);
  }
  /** The best installed voice for a language: a natural one, else the default, else any. */
  voice(language) {
    const voices = this.synth.getVoices().filter(
      (v) => (v.lang || "").replace("_", "-").toLowerCase().startsWith(language));
    return voices.find((v) => GOOD_VOICE.test(v.name)) || voices.find((v) => v.default)
      || voices.find((v) => (v.lang || "").toLowerCase() === LOCALES[language].toLowerCase())
      || voices[0] || null;
  }
  voiceName(language) { return this.voice(language)?.name ?? ""; }
  languages() { return Object.keys(LOCALES).filter((language) => this.voice(language)); }
  say({turn, sentence, text, language}) {
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = LOCALES[language] || language;
    utterance.voice = this.voice(language);
    const generation = this.generation;
    const report = (spoken) => {
      if (generation === this.generation) send("tts_spoken", {turn, sentence, state: spoken});
    };
    utterance.onstart = () => {
      report("started");
      $("ai-speaking").hidden = false;
      if (turn) heardReply();
    };
    utterance.onend = () => {
      report("ended");
      state.stats.sentencesSpoken += 1;
      if (--this.pending <= 0) $("ai-speaking").hidden = true;
    };
    utterance.onerror = () => {  // cancelled or failed: not spoken, so not reported
      if (--this.pending <= 0) $("ai-speaking").hidden = true;
    };
    this.pending += 1;
    this.synth.speak(utterance);
  }
  pause() { this.synth.pause?.(); }
  resume() { this.synth.resume?.(); }
  stop() {
    this.generation += 1;
    this.pending = 0;
    this.synth.cancel();
    $("ai-speaking").hidden = true;
  }
}

function sendAudioConfig() {
  // The opening line is asked for once per session, before the first turn.
  send("audio_config", {sample_rate: state.mic.rate, browser_voices: state.speech?.languages() ?? [],
                        speak_opening: !state.openingAsked,
                        record_audio: $("record-audio").checked && state.kind !== "counseling"});
  state.openingAsked = true;
}

// ------------------------------------------------------------------ microphone in

async function startMic() {
  if (!navigator.mediaDevices?.getUserMedia) { notice(t("micMissing")); return; }
  try {
    const stream = await navigator.mediaDevices.getUserMedia(
      {audio: {echoCancellation: true, noiseSuppression: true, channelCount: 1}});
    let context = new AudioContext();
    if (![8000, 16000, 24000, 32000, 44100, 48000].includes(context.sampleRate)) {
      await context.close();
      context = new AudioContext({sampleRate: 48000});
    }
    await context.audioWorklet.addModule("/static/pcm-worklet.js");
    const node = new AudioWorkletNode(context, "pcm-worklet");
    node.port.onmessage = (message) => {
      if (state.ws?.readyState !== WebSocket.OPEN) return;
      state.ws.send(message.data);
      state.stats.micBytesSent += message.data.byteLength;
      // The stream's clock, to tell how long the user waited (see heardReply).
      const streamMs = state.stats.micBytesSent / 2 / context.sampleRate * 1000;
      state.micClock.push([streamMs, performance.now()]);
      if (state.micClock.length > 3000) state.micClock.splice(0, 1000);  // a minute at 20 ms
      showLevel(new Int16Array(message.data));
    };
    const source = context.createMediaStreamSource(stream);
    source.connect(node);
    node.connect(context.destination);  // silent, but keeps the graph pulling the worklet
    state.mic = {stream, context, node, rate: context.sampleRate};
    state.micClock = [];
    state.stats.micBytesSent = 0;
    sendAudioConfig();
  } catch (error) {
    const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
    notice(denied ? t("micDenied") : t("micMissing"));
    state.micWanted = false;
  }
  renderMicState();
}

function stopMic() {
  if (!state.mic) return;
  state.mic.stream.getTracks().forEach((track) => track.stop());
  state.mic.context.close();
  state.mic = null;
  renderMicState();
}

let levelShownAt = 0;
/** The microphone is live: its level, a few times a second. */
function showLevel(samples) {
  let peak = 0;
  for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]));
  state.stats.micPeak = Math.max(state.stats.micPeak, peak);
  const now = performance.now();
  if (now - levelShownAt < 100) return;
  levelShownAt = now;
  $("mic-level").value = Math.min(1, Math.sqrt(peak / 32768) * 1.2);
}

function renderMicState() {
  const on = Boolean(state.mic);
  $("mic-state").textContent = on ? t("micListening") : t("micOffState");
  $("mic-state").dataset.state = on ? "on" : "off";
  $("mic-level").hidden = !on;
  $("mic-toggle").textContent = on ? t("micOff") : t("micOn");
}

// ------------------------------------------------------------------ the session

async function start() {
  notice("");
  $("start").disabled = true;
  try {
    state.language = $("language").value;
    const response = await fetch("/sessions", {
      method: "POST", headers: authHeaders({"content-type": "application/json"}),
      body: JSON.stringify({scenario: $("scenario").value, language: state.language}),
    });
    if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
    const created = await response.json();
    state.sessionId = created.session_id;
    state.kind = created.kind;
    const scenario = state.scenarios.find((s) => s.id === $("scenario").value);
    $("session-title").textContent = scenario ? scenario.title[state.ui] : "";
    $("setup").hidden = true;
    $("session").hidden = false;
    $("log").replaceChildren();
    // The counterpart opens before the user says anything: a rehearsal's greeting and first
    // question, counseling's warm invitation.
    if (created.opening_line) addLine("ai opening", created.opening_line);
    state.player = new Player();
    state.speech = await BrowserSpeech.create();
    state.voice = null;
    state.openingAsked = false;
    $("voice").hidden = true;
    state.ended = false;
    connect();
    if ($("use-mic").checked) await startMic();
    $("text").focus();
  } catch (error) {
    notice(`${t("serverError")}: ${error.message}`, "error");
  } finally {
    $("start").disabled = false;
  }
}

function end() {
  notice(t("ending"));
  stopMic();
  state.player?.stop();
  state.speech?.stop();
  send("session_end");
}

function showReport() {
  state.ended = true;
  notice("");
  state.ws?.close();
  $("session").hidden = true;
  $("report").hidden = false;
  const frame = $("report-frame");
  frame.onload = () => wirePlayback(frame.contentDocument);
  showPage(frame, `/sessions/${state.sessionId}/report.html`);
  $("report-title").focus?.();
}

// A page the server renders (the report, progress), fetched with the token and shown in a frame.
function showPage(frame, url) {
  fetch(url, {headers: authHeaders()})
    .then((response) => (response.ok ? response.text() : ""))
    .then((html) => { if (html) frame.srcdoc = html; });
}

// Progress over sessions: the server draws it (inline SVG); it is fetched with the token,
// like the report, and shown in a frame. "Back" returns to where it was opened from.
let progressFrom = "setup";

function showProgress(from) {
  progressFrom = from;
  $(from).hidden = true;
  $("progress").hidden = false;
  showPage($("progress-frame"), `/me/progress.html?language=${state.ui === "en" ? "en" : "ko"}`);
  $("progress-title").focus?.();
}

function hideProgress() {
  $("progress").hidden = true;
  $(progressFrom).hidden = false;
}

// Recorded answers in the report: the audio is fetched with the token (the report frame
// cannot send it), and each mark on an answer's timeline jumps the player to its moment.
function wirePlayback(doc) {
  if (!doc) return;
  for (const box of doc.querySelectorAll(".playback")) {
    const audio = box.querySelector("audio[data-src]");
    let loaded = null;
    const load = () => {
      loaded ??= fetch(audio.dataset.src, {headers: authHeaders()})
        .then((response) => (response.ok ? response.blob() : Promise.reject(response.status)))
        .then((blob) => {
          audio.src = URL.createObjectURL(blob);
          return new Promise((resolve) => { audio.onloadedmetadata = resolve; });
        });
      return loaded;
    };
    audio.addEventListener("play", load, {once: true});
    for (const mark of box.querySelectorAll(".marker")) {
      mark.addEventListener("click", () => load().then(() => {
        audio.currentTime = Number(mark.dataset.atMs) / 1000;
        audio.play();
      }).catch(() => {}));
    }
  }
}

function again() {
  $("report").hidden = true;
  $("setup").hidden = false;
  $("log").replaceChildren();
  $("rapport-box").hidden = true;
  state.sessionId = null;
}

// ------------------------------------------------------------------ wiring

$("ui-language").addEventListener("change", (e) => {
  state.ui = e.target.value;
  localStorage.setItem("parley.ui", state.ui);
  applyLabels();
});
$("language").addEventListener("change", (e) => {
  localStorage.setItem("parley.language", e.target.value);
  state.ui = e.target.value;
  applyLabels();
});
$("scenario").addEventListener("change", renderScenarios);
$("start").addEventListener("click", start);
$("end").addEventListener("click", end);
$("again").addEventListener("click", again);
$("progress-open").addEventListener("click", () => showProgress("setup"));
$("report-progress").addEventListener("click", () => showProgress("report"));
$("progress-back").addEventListener("click", hideProgress);
$("stop-reply").addEventListener("click", () => {
  state.player?.stop();
  state.speech?.stop();
  send("interrupt");
});
$("mic-toggle").addEventListener("click", () => (state.mic ? stopMic() : startMic()));
$("text-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  state.lastUserBubble = addLine("you", text);
  state.waitFrom = performance.now();
  send("request_ai_response", {message: text, emotion: null, timestamp: Date.now()});
  $("text").value = "";
});

window.parley = {setEmotion, state, stats: state.stats};
applyLabels();
loadScenarios().catch((error) => notice(`${t("serverError")}: ${error.message}`, "error"));
