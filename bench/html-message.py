#!/usr/bin/env python3
# html-message.py - the HTML message bench/bench.sh --html sends, and the
# check of what the sink received.
#
# A benchmark helper, not a test. Two commands:
#   html-message.py make [-l BYTES] [-s SUBJECT] [-t RCPT] FILE
#       writes a newsletter/sales mail of about BYTES (default 20480) to FILE
#       as Outlook sends it: multipart/alternative, text/plain and text/html
#       both UTF-8 quoted-printable (soft breaks inside URLs, =3D in
#       attributes), a <style> block, table layout, an Outlook VML button in
#       <!--[if mso]>, product cards with image, title and button links
#       carrying &amp; query strings, a List-Unsubscribe header and footer
#       link, a mailto: link, and a </body>. No Message-ID (Postfix adds a
#       unique one). Prints "BYTES bytes, N links to track": the http(s) links a tracking
#       rewriter must replace (all but the unsubscribe ones and mailto:).
#   html-message.py check SENT BASE_URL EXPECT DIR...
#       reads every file smtp-sink dumped into DIR; EXPECT is "tracked" (one
#       pixel {BASE_URL}/o/...gif before </body>, every link of SENT
#       replaced by a {BASE_URL}/c/ link, none of SENT's trackable URLs left,
#       the unsubscribe and mailto: links kept, the part still
#       quoted-printable) or "untouched" (the decoded HTML part identical to
#       SENT's). Prints one summary line; exits 1 and names the first bad
#       files when any message fails.
#
# Deterministic (no randomness, fixed Date). Owns nothing beyond its files.
import email
import email.policy
import os
import quopri
import re
import sys

BOUNDARY = "----=_NextPart_000_0029_01DB3CF1.6A7E2B50"
UNSUB = "https://news.example.org/unsubscribe?u=8f14e45f&amp;list=sales-emea"
STYLE = """<style><!--
/* Font Definitions */
@font-face {font-family:"Segoe UI"; panose-1:2 11 5 2 4 2 4 2 2 3;}
body {margin:0; padding:0; background-color:#f4f4f4; font-family:"Segoe UI",Arial,sans-serif;}
table {border-collapse:collapse; mso-table-lspace:0pt; mso-table-rspace:0pt;}
img {border:0; display:block; outline:none; text-decoration:none;}
a {color:#0b5cad; text-decoration:underline;}
.btn a {background:#0b5cad; color:#ffffff; padding:10px 18px; border-radius:4px; text-decoration:none;}
.card td {padding:12px 16px; font-size:14px; line-height:20px; color:#333333;}
@media only screen and (max-width:600px) {.wrap {width:100% !important;} .col {display:block !important; width:100% !important;}}
--></style>"""
PRODUCTS = ["Desk lamp", "Ergonomic chair", "Standing desk", "Monitor arm",
            "Noise-cancelling headset", "Webcam 4K", "USB-C dock", "Keyboard",
            "Laptop sleeve", "Cable kit", "Whiteboard", "Notebook set"]


def utm(content):
    """The query string a marketing tool appends, entity-encoded as in HTML."""
    return ("utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=nov26-sales"
            "&amp;utm_content=" + content)


def header_html():
    """Top of the HTML part: head, style, preheader, logo, navigation, hero."""
    nav = "".join(
        '<td class=3D"col" style=3D"padding:0 8px"><a href=3D"https://www.example.com/%s?%s" '
        'style=3D"color:#ffffff">%s</a></td>\n' % (p, utm("nav-" + p), p.title())
        for p in ("offers", "office", "home", "outlet", "stores"))
    return ("""<html xmlns:v=3D"urn:schemas-microsoft-com:vml" xmlns:o=3D"urn:schemas-microsoft-com:office:office">
<head><meta http-equiv=3D"Content-Type" content=3D"text/html; charset=3Dutf-8">
<meta name=3D"viewport" content=3D"width=3Ddevice-width, initial-scale=3D1">
%s
</head>
<body lang=3D"EN-US" link=3D"#0563C1" vlink=3D"#954F72" style=3D"margin:0">
<div style=3D"display:none;max-height:0;overflow:hidden">Up to 40%% off office gear this week only \u2013 free delivery over \u20ac50</div>
<table class=3D"wrap" width=3D"600" align=3D"center" cellpadding=3D"0" cellspacing=3D"0" role=3D"presentation">
<tr><td style=3D"padding:20px"><a href=3D"https://www.example.com/?%s"><img src=3D"https://cdn.example.com/img/logo.png" width=3D"160" alt=3D"Example Store"></a></td></tr>
<tr><td style=3D"background:#0b5cad"><table role=3D"presentation"><tr>
%s</tr></table></td></tr>
<tr><td style=3D"padding:24px"><h1 style=3D"font-size:26px">Black Friday starts now</h1>
<p>Hello Bob,</p><p>Our biggest sale of the year is here. Here\u2019s what our customers in your region ordered most this month \u2014 with prices you won\u2019t see again before January.</p>
<!--[if mso]>
<v:roundrect xmlns:v=3D"urn:schemas-microsoft-com:vml" href=3D"https://shop.example.org/black-friday?%s" style=3D"height:44px;v-text-anchor:middle;width:220px" arcsize=3D"10%%" fillcolor=3D"#0b5cad" stroke=3D"f"><center style=3D"color:#ffffff">Shop the sale</center></v:roundrect>
<![endif]-->
<!--[if !mso]><!--><p class=3D"btn"><a href=3D"https://shop.example.org/black-friday?%s">Shop the sale</a></p><!--<![endif]-->
</td></tr>
""" % (STYLE, utm("logo"), nav, utm("hero-vml"), utm("hero")), 8)


def card_html(i):
    """One product card: image, title, button and wishlist links."""
    name = PRODUCTS[i % len(PRODUCTS)]
    sku = "SKU-%05d" % (31000 + 37 * i)
    url = "https://shop.example.org/p/%s?%s&amp;ref=3Dc%d" % (sku, utm("card"), i)
    return ("""<tr class=3D"card"><td class=3D"col" width=3D"180"><a href=3D"%s&amp;pos=3Dimg"><img src=3D"https://cdn.example.com/p/%s.jpg" width=3D"160" alt=3D"%s"></a></td>
<td class=3D"col"><h2><a href=3D"%s&amp;pos=3Dtitle">%s</a></h2>
<p>Was <s>\u20ac%d.99</s>, now <b>\u20ac%d.99</b> \u2013 delivered in 2\u20133 days.</p>
<p class=3D"btn"><a href=3D"%s&amp;pos=3Dbtn">View offer \u203a</a> <a href=3D"https://shop.example.org/wishlist/add?sku=3D%s&amp;%s">Save</a></p></td></tr>
""" % (url, sku, name, url, name, 90 + 10 * i, 59 + 7 * i, url, sku, utm("wish")), 4)


def footer_html(pad):
    """Bottom of the HTML part: social links, legal text, mailto, unsubscribe."""
    social = "".join(
        '<a href=3D"https://%s/examplestore?%s"><img src=3D"https://cdn.example.com/s/%s.png" width=3D"24" alt=3D"%s"></a>\n'
        % (h, utm("social"), n, n) for h, n in (
            ("www.facebook.com", "fb"), ("www.instagram.com", "ig"), ("www.linkedin.com/company", "in"),
            ("www.youtube.com/c", "yt"), ("x.com", "x")))
    return ("""<tr><td style=3D"padding:24px;font-size:12px;color:#777777">
%s<p>Questions? Write to <a href=3D"mailto:sales@example.com">sales@example.com</a> or read our <a href=3D"https://www.example.com/help/faq?%s">FAQ</a> and <a href=3D"https://www.example.com/legal/privacy?%s">privacy notice</a>.</p>
<p>%s</p>
<p>Example Store GmbH, Hauptstra\u00dfe 1, 10115 Berlin. You receive this email because you are a customer. <a href=3D"https://news.example.org/preferences?u=3D8f14e45f&amp;list=3Dsales-emea">Manage preferences</a> or <a href=3D"%s">unsubscribe</a>.</p>
</td></tr>
</table>
</body>
</html>
""" % (social, utm("faq"), utm("privacy"), pad, UNSUB.replace("=", "=3D")), 8)


def card_text(i):
    """The plain-text alternative of one card."""
    name = PRODUCTS[i % len(PRODUCTS)]
    return ("%s \u2013 now \u20ac%d.99\nhttps://shop.example.org/p/SKU-%05d\n\n"
            % (name, 59 + 7 * i, 31000 + 37 * i))


def qp(text):
    """UTF-8 and quoted-printable as Outlook writes it; text has '=' already
    spelled =3D in HTML (so attributes read naturally above), so unescape first."""
    raw = text.replace("=3D", "=").encode("utf-8")
    return quopri.encodestring(raw).decode("ascii")


def build(size, subject, rcpt, ncards, pad):
    """The whole message with NCARDS cards and PAD bytes of legal text; and
    the number of trackable links."""
    head, links = header_html()
    body = [head]
    text = ["Black Friday starts now\n\nHello Bob,\n\nOur biggest sale of the year is here.\n"
            "Shop the sale: https://shop.example.org/black-friday\n\n"]
    for i in range(ncards):
        h, n = card_html(i)
        body.append(h)
        links += n
        text.append(card_text(i))
    legal = ("Prices include VAT. Offers valid while stocks last and not combinable with other "
             "promotions. ") * 40
    foot, n = footer_html(legal[:pad])
    body.append(foot)
    links += n
    text.append("Unsubscribe: https://news.example.org/unsubscribe?u=8f14e45f&list=sales-emea\n")
    hdr = ("From: \"Example Store\" <alice@example.com>\n"
           "To: <%s>\n"
           "Subject: %s\n"
           "Date: Sun, 22 Nov 2026 09:00:00 +0100\n"
           "MIME-Version: 1.0\n"
           "Content-Type: multipart/alternative;\n\tboundary=\"%s\"\n"
           "X-Mailer: Microsoft Outlook 16.0\n"
           "Thread-Index: AdtD2Kx6bXq1YzJ9T0WbQk3mHn4R8w==\n"
           "Content-Language: en-us\n"
           "List-Unsubscribe: <%s>\n"
           "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
           "\nThis is a multi-part message in MIME format.\n\n" % (rcpt, subject, BOUNDARY,
                                                                  UNSUB.replace("&amp;", "&")))
    part = "--%s\nContent-Type: %s;\n\tcharset=\"utf-8\"\nContent-Transfer-Encoding: quoted-printable\n\n"
    msg = (hdr + part % (BOUNDARY, "text/plain") + qp("".join(text)) + "\n"
           + part % (BOUNDARY, "text/html") + qp("".join(body)) + "\n--%s--\n" % BOUNDARY)
    return msg, links


def make(args):
    """html-message.py make: write the message, print its link count."""
    size, subject, rcpt, out = 20480, "Black Friday: up to 40% off office gear", "bob@external.test", None
    while args:
        a = args.pop(0)
        if a == "-l":
            size = int(args.pop(0))
        elif a == "-s":
            subject = args.pop(0)
        elif a == "-t":
            rcpt = args.pop(0)
        else:
            out = a
    ncards = 0
    while ncards < 200 and len(build(size, subject, rcpt, ncards + 1, 0)[0]) <= size:
        ncards += 1
    base = len(build(size, subject, rcpt, ncards, 0)[0])
    pad = max(0, min(size - base - 40, 3000))
    msg, links = build(size, subject, rcpt, ncards, pad)
    with open(out, "w", newline="\n") as f:
        f.write(msg)
    print("%d bytes, %d links to track" % (len(msg.encode("utf-8")), links))


def html_part(path):
    """(decoded HTML, Content-Transfer-Encoding) of the message at PATH."""
    with open(path, "rb") as f:
        m = email.message_from_binary_file(f, policy=email.policy.compat32)
    for p in m.walk():
        if p.get_content_type() == "text/html":
            return p.get_payload(decode=True).decode("utf-8"), p.get("Content-Transfer-Encoding", "")
    return None, None


def check(args):
    """html-message.py check: verify every dumped message; exit 1 if any fails."""
    sent, base, expect, dirs = args[0], args[1].rstrip("/"), args[2], args[3:]
    orig, _ = html_part(sent)
    trackable = [u for u in re.findall(r'href="(https?://[^"]*)"', orig) if "unsubscribe" not in u]
    pixel = re.compile(re.escape(base) + r"/o/[A-Za-z0-9_-]+\.gif")
    click = re.compile(r'href="' + re.escape(base) + r'/c/[^"]+"')
    files = sorted(os.path.join(d, f) for d in dirs for f in os.listdir(d))
    bad, stats = [], [0, 0]
    for path in files:
        html, cte = html_part(path)
        why = None
        if html is None:
            why = "no text/html part"
        elif expect == "untouched":
            why = None if html == orig else "HTML part differs from what was sent"
        else:
            px = pixel.findall(html)
            nc = len(click.findall(html))
            stats[0] += len(px)
            stats[1] += nc
            body_end = html.rfind("</body>")
            left = [u for u in trackable if 'href="%s"' % u in html]
            if len(px) != 1 or not 0 <= html.find(px[0]) < body_end:
                why = "%d pixels (want 1, before </body>)" % len(px)
            elif nc != len(trackable) or left:
                why = "%d rewritten links, %d original links left (want %d and 0)" % (
                    nc, len(left), len(trackable))
            elif 'href="mailto:sales@example.com"' not in html or UNSUB not in html:
                why = "mailto: or unsubscribe link changed"
            elif cte.lower() != "quoted-printable":
                why = "Content-Transfer-Encoding is now %r" % cte
        if why:
            bad.append("%s: %s" % (path, why))
    if expect == "tracked":
        print("sink check: %d of %d messages tracked (%d pixels, %d rewritten links; %d per message)"
              % (len(files) - len(bad), len(files), stats[0], stats[1], len(trackable)))
    else:
        print("sink check: %d of %d messages untouched" % (len(files) - len(bad), len(files)))
    for b in bad[:5]:
        print("  FAILED " + b)
    return 1 if bad or not files else 0


def main():
    """Dispatch make/check."""
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(sys.argv[2:])
        return 0
    if len(sys.argv) >= 6 and sys.argv[1] == "check":
        return check(sys.argv[2:])
    sys.stderr.write("usage: html-message.py make [-l BYTES] [-s SUBJECT] [-t RCPT] FILE\n"
                     "       html-message.py check SENT BASE_URL tracked|untouched DIR...\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
