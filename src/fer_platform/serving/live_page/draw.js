// What the page draws: each face's box and backed label in its emotion's colour (as fer-edge's overlay does),
// and a strip per face of its smoothed label over the last TIMELINE_MS.

export const TIMELINE_MS = 10000;
const STALE = "#808080";
const FONT = "600 14px system-ui, sans-serif";

// A canvas the size it is shown at, in device pixels (text stays sharp).
export function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.round(canvas.clientWidth * ratio), height = Math.round(canvas.clientHeight * ratio);
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  return ratio;
}

// Where an image of `width` x `height` sits in the canvas when fitted whole (object-fit: contain).
export function contain(canvas, width, height) {
  const scale = Math.min(canvas.width / width, canvas.height / height);
  return { scale, x: (canvas.width - width * scale) / 2, y: (canvas.height - height * scale) / 2 };
}

// faces: [{box: {x, y, w, h}, text, colour}] in image pixels; `place` maps them onto the canvas.
export function drawFaces(ctx, faces, place, ratio) {
  ctx.font = FONT.replace("14px", `${Math.round(14 * ratio)}px`);
  ctx.lineWidth = 2 * ratio;
  for (const face of faces) {
    const x = place.x + face.box.x * place.scale, y = place.y + face.box.y * place.scale;
    const w = face.box.w * place.scale, h = face.box.h * place.scale;
    ctx.strokeStyle = face.colour;
    ctx.strokeRect(x, y, w, h);
    const textWidth = ctx.measureText(face.text).width, textHeight = 18 * ratio;
    const top = y - textHeight - 2 * ratio >= 0 ? y - textHeight - 2 * ratio : y + 2 * ratio;
    const left = Math.min(Math.max(x, 0), Math.max(0, ctx.canvas.width - textWidth - 8 * ratio));
    ctx.fillStyle = face.colour;
    ctx.fillRect(left, top, textWidth + 8 * ratio, textHeight);
    ctx.fillStyle = "#fff";
    ctx.textBaseline = "middle";
    ctx.fillText(face.text, left + 4 * ratio, top + textHeight / 2);
  }
}

// A live face as fer-edge shows it: "face N: label P%" from its smoothed answer; grey until it has one.
export function liveFace(face, colours) {
  if (!face.smoothed_label) return { box: face.box, text: `face ${face.track_id}: no answer yet`, colour: STALE };
  const percent = Math.round(face.smoothed_confidence * 100);
  return { box: face.box, text: `face ${face.track_id}: ${face.smoothed_label} ${percent}%`,
           colour: colours[face.smoothed_label] || STALE };
}

// A photo's face: its own answer (one image, nothing to smooth).
export function photoFace(face, index, colours) {
  return { box: face.box, text: `face ${index + 1}: ${face.label} ${Math.round(face.confidence * 100)}%`,
           colour: colours[face.label] || STALE };
}

export function drawLegend(list, labels, colours) {
  list.replaceChildren(...labels.map((label) => {
    const item = document.createElement("li");
    item.textContent = label;
    item.style.background = colours[label];
    return item;
  }));
}

// Per track: its samples [{t, label}] over the last TIMELINE_MS, one strip each, oldest on the left.
export class Timelines {
  constructor(container, colours) {
    this.container = container;
    this.colours = colours;
    this.tracks = new Map(); // track id -> {samples, row, canvas}
  }

  add(now, faces) {
    for (const face of faces) {
      if (!face.smoothed_label) continue;
      let track = this.tracks.get(face.track_id);
      if (!track) {
        track = this.row(face.track_id);
        this.tracks.set(face.track_id, track);
      }
      track.samples.push({ t: now, label: face.smoothed_label });
    }
  }

  row(trackId) {
    const row = document.createElement("div"), name = document.createElement("span");
    const canvas = document.createElement("canvas");
    row.className = "timeline";
    row.dataset.track = trackId;
    name.textContent = `face ${trackId}`;
    row.append(name, canvas);
    this.container.append(row);
    return { samples: [], row, canvas };
  }

  draw(now) {
    for (const [id, track] of this.tracks) {
      track.samples = track.samples.filter((s) => now - s.t <= TIMELINE_MS);
      if (!track.samples.length) {  // a face gone for the whole span leaves the list
        track.row.remove();
        this.tracks.delete(id);
        continue;
      }
      const canvas = track.canvas;
      fitCanvas(canvas);
      const ctx = canvas.getContext("2d"), x = (t) => ((t - (now - TIMELINE_MS)) / TIMELINE_MS) * canvas.width;
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      track.samples.forEach((sample, i) => {
        const next = track.samples[i + 1];
        const end = next && next.t - sample.t < 1000 ? next.t : sample.t + 200; // a gap stays a gap
        ctx.fillStyle = this.colours[sample.label] || STALE;
        ctx.fillRect(x(sample.t), 0, Math.max(1, x(end) - x(sample.t)), canvas.height);
      });
    }
  }

  clear() {
    for (const track of this.tracks.values()) track.row.remove();
    this.tracks.clear();
  }
}
