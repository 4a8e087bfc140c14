"""Regenerates sample.png: a green board with four dark screw holes and one bright scratch (needs Pillow)."""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 640, 480


def main() -> None:
    shade = np.linspace(-8, 8, HEIGHT, dtype=np.float32)[:, None]
    board = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    for channel, level in enumerate((34, 110, 60)):
        board[:, :, channel] = np.clip(level + shade, 0, 255).astype(np.uint8)
    image = Image.fromarray(board)
    draw = ImageDraw.Draw(image)
    for cx, cy in ((80, 70), (560, 70), (80, 410), (560, 410)):
        draw.ellipse((cx - 14, cy - 14, cx + 14, cy + 14), fill=(15, 15, 15))
    draw.line((250, 200, 390, 262), fill=(222, 222, 210), width=4)
    image.save(Path(__file__).resolve().parents[1] / "sample.png", optimize=True)


if __name__ == "__main__":
    main()
