/**
 * Workflows embedded in PNG files (COMPAT 8.3): walk the chunks after the signature and
 * read the text chunks, where the server stores "prompt" (API prompt) and "workflow" (UI
 * workflow) as JSON. tEXt and uncompressed iTXt are read synchronously; compressed iTXt and
 * zTXt need the platform's DecompressionStream. Pure apart from that; unit-tested.
 */

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const TEXT_TYPES = new Set(["tEXt", "iTXt", "zTXt"]);

/** Whether `bytes` starts with the PNG signature. */
export function isPng(bytes) {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

function ascii(bytes) {
  return String.fromCharCode(...bytes);
}

/** tEXt is Latin-1 by the spec; writers that put UTF-8 there are read as UTF-8. */
function decodeText(bytes) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder("latin1").decode(bytes);
  }
}

/**
 * The chunks of a PNG, `{type, data}` with `data` a view into `bytes`.
 * @throws {Error} when the signature is wrong or a chunk runs past the end
 */
export function readChunks(bytes) {
  if (!isPng(bytes)) throw new Error("not a PNG file (bad signature)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks = [];
  let at = 8;
  while (at + 8 <= bytes.length) {
    const length = view.getUint32(at);
    const type = ascii(bytes.subarray(at + 4, at + 8));
    const end = at + 12 + length;
    if (end > bytes.length) throw new Error(`PNG chunk ${type} at byte ${at} runs past the end of the file`);
    chunks.push({ type, data: bytes.subarray(at + 8, at + 8 + length) });
    at = end;
    if (type === "IEND") break;
  }
  return chunks;
}

async function inflate(data) {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** One text chunk as `{keyword, text}` or `{keyword, compressed}` (bytes to inflate). */
export function parseTextChunk(type, data) {
  const nul = data.indexOf(0);
  if (nul < 0) throw new Error(`${type} chunk without a keyword terminator`);
  const keyword = decodeText(data.subarray(0, nul));
  if (type === "tEXt") return { keyword, text: decodeText(data.subarray(nul + 1)) };
  if (type === "zTXt") return { keyword, compressed: data.subarray(nul + 2) };
  const flag = data[nul + 1];
  const lang = data.indexOf(0, nul + 3);
  const translated = data.indexOf(0, lang + 1);
  if (lang < 0 || translated < 0) throw new Error(`iTXt chunk '${keyword}' is truncated`);
  const body = data.subarray(translated + 1);
  return flag ? { keyword, compressed: body } : { keyword, text: new TextDecoder("utf-8").decode(body) };
}

/**
 * All text entries of a PNG as `{keyword: text}` (later chunks win).
 * @param {Uint8Array} bytes the file
 */
export async function readPngText(bytes) {
  const out = {};
  for (const chunk of readChunks(bytes)) {
    if (!TEXT_TYPES.has(chunk.type)) continue;
    const entry = parseTextChunk(chunk.type, chunk.data);
    out[entry.keyword] = entry.text ?? new TextDecoder("utf-8").decode(await inflate(entry.compressed));
  }
  return out;
}

function parseJson(text, keyword) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`the PNG's '${keyword}' text is not valid JSON: ${error.message}`);
  }
}

/**
 * The graph embedded in a PNG: the UI workflow when present, else the API prompt.
 * @returns {Promise<{workflow?: object, prompt?: object}>} empty when the PNG has neither
 */
export async function graphFromPng(bytes) {
  const text = await readPngText(bytes);
  const out = {};
  if (text.workflow) out.workflow = parseJson(text.workflow, "workflow");
  if (text.prompt) out.prompt = parseJson(text.prompt, "prompt");
  return out;
}
