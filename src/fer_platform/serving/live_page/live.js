// The live page: the camera's frames, downscaled here, go to the service over one WebSocket, never more than
// one at a time (a late answer drops frames, never queues them); each answer is drawn over the video. A photo
// goes the same way. The service tracks and smooths each face (fer-edge's code); this page only draws.
import { Timelines, contain, drawFaces, drawLegend, fitCanvas, liveFace, photoFace } from "./draw.js";

const SEND_WIDTH = 320;   // what a frame is downscaled to: /detect p50 139 ms at 640x480, 68 ms at 320x240 (bench)
const JPEG_QUALITY = 0.8;
const PHOTO_SIDE = 1280;  // a photo's longest side once downscaled (a phone's 12 MP would take seconds to search)
const KEEP_RECORDS = 600;
const FRAME = 0x46, PHOTO = 0x50; // "F", "P": the first byte of a message says what the image is
const UNAUTHORIZED = 4401, TRY_AGAIN_LATER = 1013, IDLE = 4408;

const $ = (id) => document.getElementById(id);
const video = $("video"), overlay = $("overlay"), grab = document.createElement("canvas");

// What the page knows, readable from the console (and by the browser test): per-frame records and stats.
const live = (window.ferLive = { state: "connecting", records: [], fps: 0, latencyP50: null, photo: null });

let socket = null, config = null, timelines = null, stream = null, photo = null;
let colours = null;       // kept across a close: a photo on screen is redrawn (resize) after the socket went
let inFlight = null;      // the one message awaiting its answer: {kind, capturedAt, sentAt, photoId}
let queuedPhoto = null;   // {buffer, id}: a photo waiting for the frame in flight to be answered
let frameSeq = 0, sentSeq = 0, frameAt = 0, photoSeq = 0;
const answerTimes = [], latencies = [];

function setStatus(state, text) {
  live.state = state;
  $("status").dataset.state = state;
  $("status").textContent = text;
}

function enable() {
  const open = Boolean(socket && config);
  $("camera-start").disabled = !open || Boolean(stream);
  $("camera-stop").disabled = !stream;
  $("photo").disabled = !open;
}

function connect() {
  if (socket) socket.close();
  socket = config = inFlight = null; // an answer the old socket still owed never comes: nothing is in flight
  setStatus("connecting", "connecting…");
  const token = $("token").value;
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/live/ws`);
  socket = ws;
  ws.onopen = () => ws.send(JSON.stringify({ token })); // the token goes in the first message, never a URL
  ws.onmessage = (event) => { if (socket === ws) onAnswer(JSON.parse(event.data)); };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = config = inFlight = null;
    if (stream) stopCamera(); // nothing would be sent: the camera stays off until the user starts it again
    enable();
    if (event.code === UNAUTHORIZED) {
      setStatus("refused", token ? "token refused: check it and connect again" : "this service needs a token");
      $("token").focus();
    } else if (event.code === TRY_AGAIN_LATER) setStatus("closed", event.reason || "the service is busy");
    else if (event.code === IDLE) setStatus("closed", "closed after a while without frames: connect again");
    else setStatus("closed", "disconnected from the service: connect again");
  };
}

function onAnswer(answer) {
  if (answer.type === "ready") {
    config = answer;
    colours = config.colours;
    if (timelines) timelines.clear(); // track numbers start again with each connection
    timelines = timelines || new Timelines($("timelines"), colours);
    answerTimes.length = latencies.length = 0;
    drawLegend($("legend"), config.labels, config.colours);
    setStatus("ready", "connected: start the camera, or drop a photo");
    enable();
  } else {
    const sent = inFlight;
    inFlight = null;
    if (answer.type === "error") setStatus("error", `the service refused an image (${answer.status}): ${answer.error}`);
    else if (live.state === "error") setStatus("ready", "connected");
    if (answer.type === "photo" && sent) showPhoto(answer, sent);
    if (answer.type === "frame" && stream && sent) showFrame(answer, sent);
  }
  sendNext();
}

function send(kind, buffer, capturedAt, photoId = null) {
  const message = new Uint8Array(buffer.byteLength + 1);
  message[0] = kind;
  message.set(new Uint8Array(buffer), 1);
  inFlight = { kind, capturedAt, sentAt: performance.now(), photoId };
  socket.send(message);
}

// Sends the newest camera frame (or a waiting photo) when nothing is in flight.
function sendNext() {
  if (!socket || socket.readyState !== WebSocket.OPEN || !config || inFlight) return;
  if (queuedPhoto) {
    const { buffer, id } = queuedPhoto;
    queuedPhoto = null;
    send(PHOTO, buffer, performance.now(), id);
    return;
  }
  if (!stream || frameSeq === sentSeq || !video.videoWidth) return;
  sentSeq = frameSeq;
  const capturedAt = frameAt;
  grab.width = SEND_WIDTH;
  grab.height = Math.round((SEND_WIDTH * video.videoHeight) / video.videoWidth);
  grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
  inFlight = { kind: FRAME, capturedAt }; // taken now: the encoding below is asynchronous
  const ws = socket; // a frame is sent only on the connection it was taken for, once that one is ready
  grab.toBlob(async (blob) => {
    const buffer = blob && (await blob.arrayBuffer());
    if (socket !== ws) return; // connect() replaced it, and reset what was in flight
    if (!buffer || !config || ws.readyState !== WebSocket.OPEN) { inFlight = null; return; }
    send(FRAME, buffer, capturedAt);
  }, "image/jpeg", JPEG_QUALITY);
}

// Counts each new camera frame; when the camera says when it captured one, latency starts there.
function watchFrames() {
  if (!stream) return;
  video.requestVideoFrameCallback((now, meta) => {
    frameSeq += 1;
    const captured = meta.captureTime;
    frameAt = captured && captured <= now && now - captured < 1000 ? captured : now;
    sendNext();
    watchFrames();
  });
}

async function startCamera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } } });
  } catch (err) {
    setStatus("error", `no camera: ${err.name === "NotAllowedError" ? "permission denied" : err.message}`);
    return;
  }
  photo = null;
  $("hint").hidden = true;
  video.hidden = false;
  video.srcObject = stream;
  await video.play();
  watchFrames();
  enable();
}

function stopCamera() {
  if (stream) stream.getTracks().forEach((track) => track.stop());
  stream = null;
  video.srcObject = null;
  overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
  enable();
}

function showFrame(answer, sent) {
  const ratio = fitCanvas(overlay), ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  drawFaces(ctx, answer.faces.map((f) => liveFace(f, colours)), contain(overlay, answer.image.width,
    answer.image.height), ratio);
  const now = performance.now(), latency = now - sent.capturedAt;
  answerTimes.push(now);
  while (now - answerTimes[0] > 2000) answerTimes.shift();
  latencies.push(latency);
  if (latencies.length > 30) latencies.shift();
  live.fps = answerTimes.length > 1 ? ((answerTimes.length - 1) * 1000) / (now - answerTimes[0]) : 0;
  live.latencyP50 = [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length / 2)];
  // Where the latency goes: before sending (capture, downscale, JPEG), then the round trip to the labels drawn,
  // of which the service's part.
  live.records.push({ t: now, latency_ms: latency, before_send_ms: sent.sentAt - sent.capturedAt,
                      round_trip_ms: now - sent.sentAt, server_ms: answer.server_ms, image: answer.image,
                      faces: answer.faces });
  if (live.records.length > KEEP_RECORDS) live.records.shift();
  $("fps").textContent = live.fps.toFixed(1);
  $("latency").textContent = `${Math.round(live.latencyP50)} ms (median of the last ${latencies.length})`;
  $("server").textContent = `${Math.round(answer.server_ms)} ms per frame, ${answer.image.width}x${answer.image.height}`;
  timelines.add(now, answer.faces);
  timelines.draw(now);
}

async function choosePhoto(file) {
  if (!file || !["image/jpeg", "image/png"].includes(file.type)) {
    setStatus("error", "a photo is a JPEG or PNG file");
    return;
  }
  stopCamera();
  video.hidden = true;
  $("hint").hidden = true;
  const bitmap = await createImageBitmap(file); // upright: the photo's EXIF orientation is applied
  const scale = Math.min(1, PHOTO_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const id = (photoSeq += 1);
  photo = { canvas, answer: null, id };
  drawPhoto();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
  queuedPhoto = { buffer: await blob.arrayBuffer(), id };
  sendNext();
}

function showPhoto(answer, sent) {
  if (!photo || sent.photoId !== photo.id) return; // the answer to a photo since replaced
  photo.answer = answer;
  live.photo = { image: answer.image, faces: answer.faces };
  drawPhoto();
}

function drawPhoto() {
  if (!photo) return;
  const ratio = fitCanvas(overlay), ctx = overlay.getContext("2d");
  const place = contain(overlay, photo.canvas.width, photo.canvas.height);
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  ctx.drawImage(photo.canvas, place.x, place.y, photo.canvas.width * place.scale, photo.canvas.height * place.scale);
  if (photo.answer) drawFaces(ctx, photo.answer.faces.map((f, i) => photoFace(f, i, colours)), place, ratio);
}

function failed(err) {
  setStatus("error", `the page failed: ${err && err.message ? err.message : err}`);
}

$("connect").addEventListener("submit", (event) => { event.preventDefault(); connect(); });
$("camera-start").addEventListener("click", () => startCamera().catch(failed));
$("camera-stop").addEventListener("click", stopCamera);
$("photo").addEventListener("change", (event) => choosePhoto(event.target.files[0]).catch(failed));
const stage = $("stage");
stage.addEventListener("dragover", (event) => { event.preventDefault(); stage.classList.add("dragging"); });
stage.addEventListener("dragleave", () => stage.classList.remove("dragging"));
stage.addEventListener("drop", (event) => {
  event.preventDefault();
  stage.classList.remove("dragging");
  choosePhoto(event.dataTransfer.files[0]).catch(failed);
});
document.addEventListener("drop", (event) => event.preventDefault()); // a miss must not navigate away
document.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("resize", drawPhoto);
setInterval(() => timelines && timelines.draw(performance.now()), 1000); // faces that left fade out of the list
connect(); // with no token: a service without one is ready at once, one with one says it needs it
