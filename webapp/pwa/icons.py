"""The app icons: every size the manifest and the pages name, made from one source image with Pillow.

The PNGs are committed (``webapp/static/app/``) so that ``make run`` and the Docker image serve them
with no build step; ``flask app icons`` remakes them after the source changes, and a test checks that
the committed files are what the source gives.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

APP_DIR = Path(__file__).resolve().parent.parent / "static" / "app"
SOURCE = APP_DIR / "icon-source.png"
THEME = "#b3261e"  # the site header's --brand colour
BACKGROUND = "#ffffff"
# name -> (size, maskable). "any" icons use the whole square; maskable ones keep the mark inside the
# 80 % safe zone on the brand colour, since launchers crop them to a circle or squircle.
ICONS: dict[str, tuple[int, bool]] = {
    "icon-192.png": (192, False),
    "icon-512.png": (512, False),
    "icon-maskable-192.png": (192, True),
    "icon-maskable-512.png": (512, True),
    "apple-touch-icon.png": (180, False),   # iOS home screen (it ignores the manifest's icons)
    "favicon-32.png": (32, False),
}


def render(size: int, maskable: bool, source: Path = SOURCE) -> Image.Image:
    """The icon of ``size`` pixels (RGB, opaque) made from the square source image."""
    with Image.open(source) as img:
        img = img.convert("RGBA")
        if maskable:
            inner = round(size * 0.8)
            canvas = Image.new("RGBA", (size, size), THEME)
            mark = img.resize((inner, inner), Image.Resampling.LANCZOS)
            offset = (size - inner) // 2
            canvas.alpha_composite(mark, (offset, offset))
        else:
            canvas = Image.new("RGBA", (size, size), BACKGROUND)
            canvas.alpha_composite(img.resize((size, size), Image.Resampling.LANCZOS))
        return canvas.convert("RGB")


def generate(out: Path = APP_DIR, source: Path = SOURCE) -> list[Path]:
    """Write every icon of ``ICONS`` into ``out``; returns the paths written."""
    written = []
    for name, (size, maskable) in ICONS.items():
        path = out / name
        render(size, maskable, source).save(path, "PNG", optimize=True)
        written.append(path)
    return written
