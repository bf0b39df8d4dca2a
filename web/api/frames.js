/**
 * Decode the websocket's binary frames (COMPAT 2.5): a big-endian uint32 event type, then
 * its payload. Pure; works on ArrayBuffer so it runs in the browser and under node.
 *
 * @typedef {{event: 1, imageType: string, image: Uint8Array}} PreviewFrame
 * @typedef {{event: 3, nodeId: string, text: string}} TextFrame
 * @typedef {{event: 4, imageType: string, image: Uint8Array, meta: object}} PreviewMetaFrame
 */

export const FRAME = Object.freeze({ PREVIEW_IMAGE: 1, TEXT: 3, PREVIEW_IMAGE_WITH_METADATA: 4 });
const IMAGE_FORMATS = Object.freeze({ 1: "image/jpeg", 2: "image/png" });

function uint32(view, offset, what) {
  if (view.byteLength < offset + 4) throw new Error(`binary frame too short for ${what}`);
  return view.getUint32(offset, false);
}

function utf8(bytes) {
  return new TextDecoder().decode(bytes);
}

/**
 * Decode one binary frame.
 * @param {ArrayBuffer} buffer
 * @returns {PreviewFrame|TextFrame|PreviewMetaFrame}
 * @throws {Error} on a truncated frame, an unknown event or image format
 */
export function decodeFrame(buffer) {
  const view = new DataView(buffer);
  const event = uint32(view, 0, "the event type");
  if (event === FRAME.PREVIEW_IMAGE) {
    const format = uint32(view, 4, "the image format");
    const imageType = IMAGE_FORMATS[format];
    if (!imageType) throw new Error(`unknown preview image format ${format}`);
    return { event, imageType, image: new Uint8Array(buffer, 8) };
  }
  if (event === FRAME.TEXT) {
    const length = uint32(view, 4, "the node id length");
    if (buffer.byteLength < 8 + length) throw new Error("binary text frame shorter than its node id");
    const nodeId = utf8(new Uint8Array(buffer, 8, length));
    return { event, nodeId, text: utf8(new Uint8Array(buffer, 8 + length)) };
  }
  if (event === FRAME.PREVIEW_IMAGE_WITH_METADATA) {
    const length = uint32(view, 4, "the metadata length");
    if (buffer.byteLength < 8 + length) throw new Error("binary preview frame shorter than its metadata");
    const meta = JSON.parse(utf8(new Uint8Array(buffer, 8, length)));
    return { event, imageType: meta.image_type ?? "image/jpeg", image: new Uint8Array(buffer, 8 + length), meta };
  }
  throw new Error(`unknown binary frame event ${event}`);
}

/** Encode a frame; the inverse of decodeFrame, used by tests and fake servers. */
export function encodeFrame(frame) {
  const enc = new TextEncoder();
  let head;
  let body;
  if (frame.event === FRAME.PREVIEW_IMAGE) {
    head = [frame.event, frame.imageType === "image/png" ? 2 : 1];
    body = [frame.image];
  } else if (frame.event === FRAME.TEXT) {
    const id = enc.encode(frame.nodeId);
    head = [frame.event, id.length];
    body = [id, enc.encode(frame.text)];
  } else if (frame.event === FRAME.PREVIEW_IMAGE_WITH_METADATA) {
    const meta = enc.encode(JSON.stringify(frame.meta));
    head = [frame.event, meta.length];
    body = [meta, frame.image];
  } else {
    throw new Error(`unknown binary frame event ${frame.event}`);
  }
  const size = 4 * head.length + body.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  head.forEach((v, i) => view.setUint32(4 * i, v, false));
  let offset = 4 * head.length;
  for (const part of body) {
    out.set(part, offset);
    offset += part.length;
  }
  return out.buffer;
}
