#!/usr/bin/env python3
"""Draws docs/img/gradient-integration.svg: two conflicting gradients, the segment of
their convex combinations, its min-norm point, the MMPareto direction (twice the
min-norm combination) and its rescale to the norm of the plain sum."""
import math
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "img", "gradient-integration.svg")
g_mm = (3.0, 1.0)     # multimodal-loss gradient on an encoder
g_u = (-1.6, 2.2)     # unimodal-loss gradient on the same encoder: cos < 0
gamma = 1.5


def dot(a, b):
    return a[0] * b[0] + a[1] * b[1]


def add(a, b, s=1.0, t=1.0):
    return (s * a[0] + t * b[0], s * a[1] + t * b[1])


v11, v12, v22 = dot(g_mm, g_mm), dot(g_mm, g_u), dot(g_u, g_u)
c = (v22 - v12) / (v11 + v22 - 2 * v12)
pareto = add(g_mm, g_u, c, 1 - c)                  # min-norm point of the segment
new = add(g_mm, g_u, 2 * c, 2 * (1 - c))           # MMPareto direction before rescale
total = add(g_mm, g_u)                             # uniform (summed loss) gradient
r = math.sqrt(dot(total, total)) / math.sqrt(dot(new, new))
final = (gamma * max(r, 1) * new[0], gamma * max(r, 1) * new[1])

scale, ox, oy = 55, 330, 360


def p(v):
    return ox + scale * v[0], oy - scale * v[1]


def arrow(v, colour, label, dx=8, dy=-6, dash=""):
    x, y = p(v)
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line x1="{ox}" y1="{oy}" x2="{x:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="3"{d} '
            f'marker-end="url(#head-{colour[1:]})"/>\n'
            f'<text x="{x + dx:.1f}" y="{y + dy:.1f}" fill="{colour}" font-size="15">{label}</text>\n')


colours = ["#1f77b4", "#d62728", "#2ca02c", "#7f7f7f", "#9467bd"]
markers = "".join(f'<marker id="head-{c[1:]}" markerWidth="10" markerHeight="10" refX="8" refY="3" orient="auto">'
                  f'<path d="M0,0 L0,6 L9,3 z" fill="{c}"/></marker>' for c in colours)
(x1, y1), (x2, y2) = p(g_mm), p(g_u)
px, py = p(pareto)
svg = f'''<svg xmlns="http://www.w3.org/2000/svg" width="760" height="450" font-family="sans-serif">
<defs>{markers}</defs>
<rect width="760" height="450" fill="white"/>
<text x="20" y="28" font-size="17">Two conflicting gradients of one encoder (cos = {v12 / math.sqrt(v11 * v22):.2f})</text>
<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#aaaaaa" stroke-width="2" stroke-dasharray="6,4"/>
<text x="{(x1 + x2) / 2 + 10:.1f}" y="{(y1 + y2) / 2 - 8:.1f}" fill="#777777" font-size="13">c·g_mm + (1−c)·g_u, 0 ≤ c ≤ 1</text>
<line x1="{ox}" y1="{oy}" x2="{px:.1f}" y2="{py:.1f}" stroke="#bbbbbb" stroke-width="1"/>
<circle cx="{px:.1f}" cy="{py:.1f}" r="5" fill="#ff7f0e"/>
<text x="{px + 14:.1f}" y="{py + 30:.1f}" fill="#ff7f0e" font-size="14">min-norm point, c = {c:.2f}</text>
{arrow(g_mm, colours[0], "g_mm")}{arrow(g_u, colours[1], "g_u", -40)}{arrow(total, colours[3], "g_mm + g_u (uniform)", 10, 22, "5,3")}{arrow(final, colours[2], f"× γ·max(1, r) = {gamma * max(r, 1):.2f}: MMPareto")}{arrow(new, colours[4], "new = 2(c·g_mm + (1−c)·g_u)", -215, 4)}
<circle cx="{ox}" cy="{oy}" r="3" fill="black"/>
<text x="20" y="420" font-size="13">The min-norm point has a non-negative inner product with both gradients: a step along it lowers both losses.</text>
<text x="20" y="438" font-size="13">MMPareto doubles it, then scales it up to at least the norm of the plain sum (r = |g_mm + g_u| / |new|), times γ.</text>
</svg>
'''
with open(OUT, "w") as f:
    f.write(svg)
print(f"{OUT}: c = {c:.3f}, r = {r:.3f}")
