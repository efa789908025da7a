#!/usr/bin/env python3
"""Write digit images for the tests of digits-cnn's image input, with Pillow (an encoder other than Serval's).

Run from the repository root:

    /usr/bin/python3 training/digit_images.py

Needs Debian's python3-pil. It reads the first golden images of ``models/digits-cnn/1/golden.json`` (grey levels
0..1, ink bright on dark) and writes to ``test/fixtures/images/``:

* ``digit-<k>-8.png``   - the image itself, 8x8 grey, each level as round(level * 255);
* ``digit-<k>-40.png``  - the same, enlarged 5 times (nearest neighbour), as RGB with an alpha channel;
* ``digit-<k>-96x64.jpg`` - the same, enlarged 8 times to 64x64 and centred on a black 96x64 canvas, as a JPEG
  (quality 95): another size, another aspect ratio, lossy;
* ``digit-0-8-exif6.png`` - the first image stored turned a quarter counter-clockwise, with the EXIF orientation 6
  that tells viewers to turn it back: the same digit once the orientation is applied;
* ``digit-0-40-alpha.png`` - the first image enlarged, white everywhere with the grey level as its opacity: the
  same digit once flattened onto black;
* ``images.json`` - per image: its file, the label digits-cnn gives for the golden tensor, and (for the 8x8 PNG,
  whose pixels are exact) the tensor the file stands for, level / 255, as [1, 1, 8, 8] row-major.

The output is reproducible: no timestamps, no randomness.
"""

import json
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "images"
IMAGES = 6


def main():
    golden = json.loads((ROOT / "models" / "digits-cnn" / "1" / "golden.json").read_text())
    pixels = next(t for t in golden["inputs"] if t["name"] == "image")["data"]
    labels = next(t for t in golden["outputs"] if t["name"] == "label")["data"]
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = []
    for k in range(IMAGES):
        levels = [round(v * 255) for v in pixels[k * 64 : (k + 1) * 64]]
        small = Image.new("L", (8, 8))
        small.putdata(levels)
        small.save(OUT / f"digit-{k}-8.png", optimize=False)
        manifest.append(
            {"file": f"digit-{k}-8.png", "label": labels[k], "tensor": [v / 255 for v in levels]}
        )
        large = small.resize((40, 40), Image.NEAREST).convert("RGBA")
        large.save(OUT / f"digit-{k}-40.png", optimize=False)
        manifest.append({"file": f"digit-{k}-40.png", "label": labels[k]})
        canvas = Image.new("RGB", (96, 64))
        canvas.paste(small.resize((64, 64), Image.NEAREST).convert("RGB"), (16, 0))
        canvas.save(OUT / f"digit-{k}-96x64.jpg", quality=95)
        manifest.append({"file": f"digit-{k}-96x64.jpg", "label": labels[k]})
    levels = [round(v * 255) for v in pixels[:64]]
    small = Image.new("L", (8, 8))
    small.putdata(levels)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the stored rows are the picture's right-hand column
    small.transpose(Image.ROTATE_90).save(OUT / "digit-0-8-exif6.png", exif=exif.tobytes(), optimize=False)
    manifest.append({"file": "digit-0-8-exif6.png", "label": labels[0], "tensor": [v / 255 for v in levels]})
    alpha = Image.new("RGBA", (40, 40), (255, 255, 255, 0))
    alpha.putalpha(small.resize((40, 40), Image.NEAREST))
    alpha.save(OUT / "digit-0-40-alpha.png", optimize=False)
    manifest.append({"file": "digit-0-40-alpha.png", "label": labels[0]})
    (OUT / "images.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(manifest)} images to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
