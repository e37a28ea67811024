"""Store payment codes: what a store's QR code carries (scene, link) and our own QR renderings.

A store's code opens the brand's mini-program on the pay page for that store, in one of two
ways. WeChat's unlimited mini-program code carries the scene (`s=<store id>`), which the
mini-program reads as `decodeURIComponent(query.scene)` (protocols §6.5). A plain QR code
carries the store's link, `<base_url>/pay/<brand code>/<store id>`: once the brand registers the
prefix `<base_url>/pay/<brand code>/` in the mini-program admin (开发管理 → 开发设置 → 扫普通链接
二维码打开小程序, page = `membership.pay_page`), WeChat opens the mini-program with the link,
URL-encoded, in `query.q`; any other scanner opens the link: a page saying to scan with WeChat.
"""

import io
import re

import qrcode
from qrcode.image.svg import SvgPathFillImage

# The store's links live under this path, one prefix per brand (WeChat's link rules are
# registered per mini-program, so two brands must not share one).
LINK_PATH = "/pay"
# Store ids are 32-bit integers: a larger number names no store (and must not reach the database).
MAX_STORE_ID = 2**31 - 1
# The quiet zone the QR specification asks for, in modules: scanners need it on busy paper.
QR_BORDER = 4
# Medium error correction (15 %): survives a smudged or creased print, keeps the code small.
QR_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M

_DIGITS = re.compile(r"[0-9]{1,10}")


def store_scene(store_id: int) -> str:
    """The scene of the store's mini-program code: `s=<store id>`.

    At most 12 characters, all from WeChat's scene alphabet (it refuses more than 32: 40169).
    """
    return f"s={store_id}"


def link_prefix(base_url: str, brand_code: str) -> str:
    """The prefix a brand registers for 扫普通链接二维码打开小程序: all its stores' links."""
    return f"{base_url.rstrip('/')}{LINK_PATH}/{brand_code}/"


def store_link(base_url: str, brand_code: str, store_id: int) -> str:
    """The link a store's plain QR code carries (and the landing page a browser shows)."""
    return f"{link_prefix(base_url, brand_code)}{store_id}"


def parse_store_id(text: str) -> int | None:
    """The store id written in a URL path, or None when it cannot be one (so: no such store)."""
    if not _DIGITS.fullmatch(text):
        return None
    store_id = int(text)
    return store_id if 1 <= store_id <= MAX_STORE_ID else None


def _qr_code(content: str) -> qrcode.QRCode:
    """The QR code of `content`, fitted to the smallest version that holds it."""
    code = qrcode.QRCode(error_correction=QR_ERROR_CORRECTION, border=QR_BORDER)
    code.add_data(content)
    code.make(fit=True)
    return code


def render_png(content: str, width: int) -> bytes:
    """A black-on-white PNG of `content`, at most `width` pixels wide (whole pixels per module)."""
    code = _qr_code(content)
    code.box_size = max(1, width // (code.modules_count + 2 * QR_BORDER))
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()


def render_svg(content: str) -> str:
    """A vector QR code of `content`: one path on a white square, 1 mm per module."""
    code = _qr_code(content)
    image = code.make_image(image_factory=SvgPathFillImage)
    return str(image.to_string(encoding="unicode"))
