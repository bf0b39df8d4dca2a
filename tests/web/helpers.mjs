// Shared test helpers: ComfyUI 0.8.0's own /object_info (tests/fixtures, the same file the
// Python tests read), fixtures, and seeded random sources.
import { readFileSync } from "node:fs";
import { normaliseObjectInfo } from "../../web/graph/node_defs.js";

export function loadObjectInfo() {
  return JSON.parse(readFileSync(new URL("../fixtures/comfyui-0.8.0-object_info.json", import.meta.url), "utf8"));
}

/** A JSON file from tests/web/fixtures (shared with the Python converter's tests). */
export function loadFixture(name) {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8"));
}

export function loadDefs() {
  return normaliseObjectInfo(loadObjectInfo());
}

/** Deterministic [0, 1) sequence (mulberry32) so random choices repeat. */
export function seededRandom(seed = 1) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random source that replays `values` in order. */
export function sequence(...values) {
  let i = 0;
  return () => values[i++ % values.length];
}
