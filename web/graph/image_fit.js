/**
 * How big a node that shows images (SaveImage, PreviewImage, LoadImage's preview) should
 * be: the image grid at its own size, scaled down to fit a capped box and keeping its
 * aspect ratio, under the node's slots and widgets. Nodes only grow, so a size the user
 * chose that is already larger stays.
 */

/** Largest width and height, in graph units, the image area grows to by itself. */
export const MAX_IMAGE_SIDE = 512;
/** Space between the image area and the node's sides and bottom. */
export const IMAGE_PADDING = 10;

/** Columns and rows of the near-square grid that shows `count` images. */
export function imageGrid(count) {
  const cols = Math.ceil(Math.sqrt(count));
  return { cols, rows: Math.ceil(count / cols) };
}

/**
 * The size of a node showing `count` images of `imageSize` below node-local y `top`.
 * @param {number[]} size current node size [w, h]
 * @param {number} top node-local y where the image area starts
 * @param {number[]} imageSize [w, h] of one image, in pixels
 * @param {number} count number of images in the grid (>= 1)
 * @param {{maxSide?: number, padding?: number}} [opts]
 * @returns {number[]} new [w, h], never smaller than `size`
 * @throws {Error} when the image size is not positive
 */
export function fitImageNode(size, top, imageSize, count = 1, opts = {}) {
  const maxSide = opts.maxSide ?? MAX_IMAGE_SIDE;
  const pad = opts.padding ?? IMAGE_PADDING;
  const [w, h] = imageSize;
  if (!(w > 0 && h > 0)) throw new Error(`image size must be positive, got ${w}x${h}`);
  const { cols, rows } = imageGrid(count);
  const gridW = cols * w;
  const gridH = rows * h;
  const scale = Math.min(1, maxSide / gridW, maxSide / gridH);
  let areaW = gridW * scale;
  let areaH = gridH * scale;
  const currentW = size[0] - 2 * pad;
  if (areaW < currentW) {
    // The node is already wider than the image: fill its width, height still capped.
    areaH = Math.min((currentW * gridH) / gridW, maxSide);
    areaW = currentW;
  }
  return [Math.max(size[0], Math.round(areaW + 2 * pad)), Math.max(size[1], Math.round(top + areaH + pad))];
}
