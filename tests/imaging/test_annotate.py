"""The caption band: geometry, colour rules and text placement."""

from PIL import Image

from dalleserver.imaging.annotate import (
    annotate_image,
    band_color,
    band_geometry,
    darken,
    lightness,
    most_frequent_colors,
    text_color,
)


def test_reference_geometry():
    geometry = band_geometry(1024, 1024, "x" * 375)
    assert round(geometry.font_size, 3) == 11.703
    assert geometry.lines == 5
    assert (geometry.width, geometry.canvas_height) == (1024, 1162)


def test_geometry_counts_bytes_and_clamps_font():
    assert band_geometry(1024, 1024, "é" * 100).font_size == band_geometry(
        1024, 1024, "x" * 200).font_size
    assert band_geometry(1024, 1024, "short").font_size == 40.0
    assert band_geometry(1024, 1024, "x" * 100_000).font_size == 10.0


def test_band_colour_is_the_mean_of_the_three_most_frequent():
    image = Image.new("RGB", (200, 200), (200, 0, 0))  # most frequent
    image.paste((0, 200, 0), (0, 0, 200, 60))  # second
    image.paste((0, 0, 200), (0, 60, 200, 100))  # third
    image.paste((255, 255, 255), (0, 100, 200, 116))  # fourth, ignored
    assert most_frequent_colors(image) == [(200, 0, 0), (0, 200, 0), (0, 0, 200)]
    assert band_color(image) == (67, 67, 67)


def test_ties_are_broken_by_colour_value():
    image = Image.new("RGB", (64, 64), (1, 1, 1))
    image.paste((9, 9, 9), (0, 0, 64, 32))
    assert most_frequent_colors(image, 1) == [(9, 9, 9)]
    image = Image.new("RGB", (64, 64), (9, 9, 9))
    image.paste((1, 1, 1), (0, 0, 64, 32))
    assert most_frequent_colors(image, 1) == [(9, 9, 9)]


def test_text_colour_by_lightness_and_darker_separator():
    assert text_color((255, 255, 255)) == (0, 0, 0)
    assert text_color((0, 0, 0)) == (255, 255, 255)
    assert text_color((0, 0, 200)) == (255, 255, 255)  # dark blue
    assert text_color((255, 255, 0)) == (0, 0, 0)  # yellow
    assert round(lightness((119, 119, 119)), 2) == 0.50
    assert darken((255, 0, 255)) == (229, 0, 229)
    assert all(a < b for a, b in zip(darken((10, 20, 30)), (10, 20, 30), strict=True))


def test_annotated_image_layout():
    source = Image.new("RGB", (1024, 1024), (20, 30, 120))
    caption = "A calmly brave otter with human-like traits, " * 7
    out = annotate_image(source, caption)
    geometry = band_geometry(1024, 1024, caption)
    assert out.size == (1024, geometry.canvas_height)
    assert out.crop((0, 0, 1024, 1024)).tobytes() == source.tobytes()
    background = (20, 30, 120)
    assert out.getpixel((3, 1024 + 10)) == background
    assert out.getpixel((500, 1024)) == darken(background)  # separator line
    band = out.crop((0, 1026, 1024, out.height))
    colors = {c for _, c in band.getcolors(maxcolors=1 << 20)}
    assert (255, 255, 255) in colors  # white text on a dark band
    # the text stays inside the margins
    text_box = Image.eval(band, lambda v: 255 if v > 200 else 0).convert("L").getbbox()
    assert text_box[0] >= 0.02 * 1024 and text_box[2] <= 0.98 * 1024
    assert annotate_image(source, caption).tobytes() == out.tobytes()
