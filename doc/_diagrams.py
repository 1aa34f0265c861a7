"""Diagrams for the user guide, drawn with matplotlib by the ``.. plot::`` directive."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

STYLE = {
    "in": dict(fc="#e8f1fb", ec="#3b75af"),
    "out": dict(fc="#fdf0e6", ec="#d9792b"),
    "gate": dict(fc="#fff6cc", ec="#b08c00"),
    "op": dict(fc="white", ec="0.3"),
    "state": dict(fc="#eaf6ea", ec="#3a923a"),
}


def _text_width(ax, label):
    """Rendered width of ``label`` in data units (the limits are fixed first)."""
    text = ax.text(0, 0, label, fontsize=10)
    bbox = text.get_window_extent(ax.figure.canvas.get_renderer())
    text.remove()
    (x0, _), (x1, _) = ax.transData.inverted().transform(bbox.get_points())
    return x1 - x0


def _node(ax, x, y, label, kind):
    width, height = max(0.5, _text_width(ax, label) + 0.3), 0.55
    box = FancyBboxPatch(
        (x - width / 2, y - height / 2),
        width,
        height,
        boxstyle="round,pad=0.05,rounding_size=0.15",
        lw=1.2,
        **STYLE[kind],
    )
    ax.add_patch(box)
    ax.text(x, y, label, ha="center", va="center", fontsize=10)
    return box


def graph(nodes, edges, size=(7, 3.6), title=None):
    """Draw ``nodes`` {name: (x, y, label, kind)} joined by arrows ``edges``.

    An edge is ``(a, b)`` or ``(a, b, rad)`` with ``rad`` the curvature. Boxes
    are sized to their rendered labels, so the layout is fixed before drawing.
    """
    fig = plt.figure(figsize=size)
    height = 0.92 if title else 1.0
    ax = fig.add_axes((0, 0, 1, height))
    xs = [v[0] for v in nodes.values()]
    ys = [v[1] for v in nodes.values()]
    x0, x1 = min(xs) - 1.0, max(xs) + 1.0
    y0, y1 = min(ys) - 0.6, max(ys) + 0.6
    # equal scales on both axes: widen the range that is too narrow
    ratio = size[0] / (size[1] * height)
    if (x1 - x0) / (y1 - y0) < ratio:
        pad = ((y1 - y0) * ratio - (x1 - x0)) / 2
        x0, x1 = x0 - pad, x1 + pad
    else:
        pad = ((x1 - x0) / ratio - (y1 - y0)) / 2
        y0, y1 = y0 - pad, y1 + pad
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.axis("off")
    boxes = {name: _node(ax, *spec) for name, spec in nodes.items()}
    for edge in edges:
        a, b, rad = edge if len(edge) == 3 else (*edge, 0.0)
        ax.add_patch(
            FancyArrowPatch(
                (nodes[a][0], nodes[a][1]),
                (nodes[b][0], nodes[b][1]),
                patchA=boxes[a],
                patchB=boxes[b],
                arrowstyle="-|>",
                mutation_scale=12,
                lw=1.1,
                color="0.25",
                connectionstyle=f"arc3,rad={rad}",
            )
        )
    if title:
        fig.suptitle(title)
    return fig


def unrolled(n_steps=4):
    """The recurrence unrolled over time: one cell, reused at every step."""
    nodes = {"h0": (0, 1.5, "$h_0$", "state")}
    edges = []
    for t in range(1, n_steps + 1):
        x = 1.6 * t
        nodes[f"x{t}"] = (x, 0, f"$x_{t}$", "in")
        nodes[f"c{t}"] = (x, 1.5, "cell", "op")
        nodes[f"h{t}"] = (x, 3, f"$h_{t}$", "out")
        edges += [(f"x{t}", f"c{t}"), (f"c{t}", f"h{t}")]
        edges.append((f"c{t - 1}" if t > 1 else "h0", f"c{t}"))
    return graph(nodes, edges, size=(7, 3.0))


HX = "$h_{t-1},\\ x_t$"


def rnn_cell():
    nodes = {
        "hx": (0, 0, HX, "in"),
        "lin": (2.6, 0, "$W_{ih}x_t + b_{ih} + W_{hh}h_{t-1} + b_{hh}$", "op"),
        "phi": (2.6, 1.5, "$\\phi$ = tanh or relu", "gate"),
        "h": (5.6, 1.5, "$h_t$", "out"),
    }
    return graph(nodes, [("hx", "lin"), ("lin", "phi"), ("phi", "h")], (7, 2.4))


def lstm_cell():
    nodes = {
        "c0": (0, 4.4, "$c_{t-1}$", "state"),
        "hx": (0, 0, HX, "in"),
        "f": (1.8, 1.4, "$f_t\\ \\sigma$", "gate"),
        "i": (3.0, 1.4, "$i_t\\ \\sigma$", "gate"),
        "g": (4.2, 1.4, "$g_t$ tanh", "gate"),
        "o": (5.8, 1.4, "$o_t\\ \\sigma$", "gate"),
        "mf": (1.8, 4.4, "$\\times$", "op"),
        "mig": (3.6, 2.9, "$\\times$", "op"),
        "add": (3.6, 4.4, "$+$", "op"),
        "tc": (5.0, 3.6, "tanh", "op"),
        "mo": (5.8, 2.7, "$\\times$", "op"),
        "c": (7.4, 4.4, "$c_t$", "state"),
        "h": (7.4, 2.7, "$h_t$", "out"),
    }
    edges = [("c0", "mf"), ("f", "mf"), ("i", "mig"), ("g", "mig"), ("mf", "add")]
    edges += [("mig", "add"), ("add", "c"), ("add", "tc"), ("tc", "mo"), ("o", "mo")]
    edges += [("mo", "h")] + [("hx", k, 0.1) for k in "figo"]
    return graph(nodes, edges, (7.5, 4.4))


def gru_cell():
    nodes = {
        "h0": (0, 4.2, "$h_{t-1}$", "state"),
        "hx": (0, 0, HX, "in"),
        "r": (1.6, 1.4, "$r_t\\ \\sigma$", "gate"),
        "z": (4.4, 1.4, "$z_t\\ \\sigma$", "gate"),
        "hn": (1.6, 2.8, "$r_t \\odot (W_{hn}h_{t-1} + b_{hn})$", "op"),
        "n": (4.4, 2.8, "$n_t$ tanh", "gate"),
        "mz": (4.4, 4.2, "$z_t \\odot h_{t-1}$", "op"),
        "mn": (6.8, 2.8, "$(1 - z_t) \\odot n_t$", "op"),
        "add": (6.8, 4.2, "$+$", "op"),
        "h": (8.2, 4.2, "$h_t$", "out"),
    }
    edges = [("h0", "mz"), ("h0", "hn"), ("r", "hn"), ("hn", "n"), ("hx", "n", 0.3)]
    edges += [("z", "mz", -0.4), ("z", "mn"), ("n", "mn"), ("mz", "add")]
    edges += [("mn", "add"), ("add", "h"), ("hx", "r", 0.1), ("hx", "z", 0.1)]
    return graph(nodes, edges, (8, 4.2))


def statal_cell():
    nodes = {
        "hx": (0, 0, HX, "in"),
        "a": (2.2, 0, "$a_t = \\sigma(\\dots)$", "gate"),
        "s0": (0, 2.4, "$s^k_{t-1}$", "state"),
        "s": (4.0, 2.4, "$s^k_t = r + a_t (1 - r),\\ r = \\rho_k s^k_{t-1}$", "op"),
        "h": (7.4, 1.2, "$h_t = [a_t, s^1_t, \\dots, s^K_t]$", "out"),
    }
    edges = [("hx", "a"), ("a", "s"), ("s0", "s"), ("a", "h"), ("s", "h")]
    return graph(nodes, edges, (8, 3.0))


def statal_response(n_states=3, n_steps=80, fires=(5, 30)):
    """One statal unit driven by two short pulses: activation and its states."""
    from skrnn._scan import scan_forward
    from skrnn._statal import StatalCell

    cell = StatalCell(n_states=n_states)
    x = -np.ones(n_steps)
    x[list(fires)] = 1.0
    params = [
        np.array([[20.0]]),
        np.zeros((1, 1 + n_states)),
        np.zeros(1),
        np.zeros(1),
    ]
    h = scan_forward(cell, params, x.reshape(-1, 1, 1))["h"][1:, 0]
    fig, ax = plt.subplots(figsize=(8, 2.8))
    ax.plot(h[:, 0], "k", lw=1, drawstyle="steps-mid", label="$a_t$ (activation)")
    for k in range(n_states):
        rho = cell.rho[k]
        ax.plot(h[:, 1 + k], lw=2, label=f"$s^{k + 1}_t$, $\\rho_{k + 1}$ = {rho:g}")
    ax.set_xlabel("time step")
    ax.set_ylim(-0.05, 1.1)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.set_title("a statal unit whose feature appears at steps 5 and 30")
    fig.tight_layout()
    return fig


def wavenet_stack(n_layers=4, n_steps=16):
    """Dilated causal convolutions: what the last output step can see."""
    from skrnn._wavenet import receptive_field

    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    seen = {n_steps - 1}
    rows = [seen]
    for k in reversed(range(n_layers)):
        d = 2**k
        seen = seen | {t - d for t in seen if t - d >= 0}
        rows.append(seen)
    rows = rows[::-1]  # rows[0]: inputs feeding the last output
    for level in range(n_layers + 1):
        for t in range(n_steps):
            on = t in rows[level]
            ax.plot(t, level, "o", ms=7, color="C0" if on else "0.8")
        if level < n_layers:
            d = 2**level
            for t in rows[level + 1]:
                for src in (t, t - d):
                    if src >= 0:
                        ax.plot([src, t], [level, level + 1], color="C0", lw=1)
            ax.text(
                n_steps + 0.3, level + 0.5, f"dilation {d}", fontsize=8, va="center"
            )
    ax.set_yticks(
        range(n_layers + 1), ["input"] + [f"layer {k}" for k in range(n_layers)]
    )
    ax.set_xticks(range(0, n_steps, 2))
    ax.set_xlabel("time step")
    ax.set_xlim(-0.8, n_steps + 2.5)
    ax.set_title(
        f"{n_layers} layers: receptive field {receptive_field(n_layers)} steps"
    )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def truncated_bptt(n_steps=12, window=4, lengths=(12, 9, 6)):
    """Left-aligned batch cut into windows counted from the end."""
    fig, ax = plt.subplots(figsize=(7.5, 2.6))
    for row, n in enumerate(lengths):
        y = len(lengths) - 1 - row
        for t in range(n_steps):
            pad = t < n_steps - n
            ax.add_patch(
                Rectangle(
                    (t + 0.05, y + 0.1),
                    0.9,
                    0.8,
                    fc="0.9" if pad else "#e8f1fb",
                    ec="0.6" if pad else "#3b75af",
                    hatch="//" if pad else None,
                )
            )
    for start in range(n_steps - window, -1, -window):
        ax.axvline(start, color="C3", lw=2)
    for a in range(n_steps - window, -window, -window):
        lo = max(a, 0)
        ax.annotate(
            "",
            xy=(lo + 0.1, len(lengths) + 0.25),
            xytext=(a + window - 0.1, len(lengths) + 0.25),
            arrowprops=dict(arrowstyle="-|>", color="C3"),
        )
    ax.text(n_steps + 0.2, len(lengths) + 0.25, "gradient", color="C3", va="center")
    ax.annotate(
        "",
        xy=(n_steps - 0.1, -0.35),
        xytext=(0.1, -0.35),
        arrowprops=dict(arrowstyle="-|>", color="0.3"),
    )
    ax.text(n_steps + 0.2, -0.35, "state", color="0.3", va="center")
    ax.set_xlim(-0.2, n_steps + 2)
    ax.set_ylim(-0.7, len(lengths) + 0.6)
    ax.axis("off")
    ax.set_title(
        f"bptt_steps={window}: padding in front (hatched), windows from the end"
    )
    fig.tight_layout()
    return fig


def clipping():
    """One gradient, clipped by global norm and by value."""
    from skrnn._clipping import clip_grad_norm, clip_grad_value

    g = np.array([2.4, 0.6])
    by_norm, by_value = [g.copy()], [g.copy()]
    clip_grad_norm(by_norm, 1.0)
    clip_grad_value(by_value, 1.0)
    fig, ax = plt.subplots(figsize=(5, 2.6))
    for vec, color, label in [
        (g, "0.4", "gradient"),
        (by_norm[0], "C0", "clip_norm=1: same direction"),
        (by_value[0], "C3", "clip_value=1: direction changes"),
    ]:
        ax.annotate("", xy=vec, xytext=(0, 0), arrowprops=dict(color=color, width=1.5))
        ax.plot([], [], color=color, lw=2, label=label)
    t = np.linspace(0, np.pi / 2, 50)
    ax.plot(np.cos(t), np.sin(t), ":", color="C0")
    ax.add_patch(Rectangle((0, 0), 1, 1, fill=False, ls=":", ec="C3"))
    ax.set_aspect("equal")
    ax.set_xlim(-0.1, 2.6)
    ax.set_ylim(-0.1, 1.2)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def padded_batch(lengths=(7, 4, 9, 3, 6)):
    """How a list of sequences becomes one right-padded batch with lengths."""
    from skrnn._data import to_padded

    seqs = [np.arange(1, n + 1, dtype=float) for n in lengths]
    X3, out_lengths, _ = to_padded(seqs)
    fig, ax = plt.subplots(figsize=(6, 2.4))
    T = X3.shape[1]
    for i, n in enumerate(out_lengths):
        y = len(out_lengths) - 1 - i
        for t in range(T):
            valid = t < n
            ax.add_patch(
                Rectangle(
                    (t, y),
                    0.95,
                    0.9,
                    fc="#e8f1fb" if valid else "0.92",
                    ec="#3b75af" if valid else "0.7",
                    hatch=None if valid else "//",
                )
            )
        ax.text(T + 0.3, y + 0.45, f"length {n}", va="center", fontsize=9)
    ax.set_xlim(-0.2, T + 2.5)
    ax.set_ylim(-0.2, len(out_lengths) + 0.1)
    ax.axis("off")
    ax.set_title("a list of sequences, padded on the right and masked")
    fig.tight_layout()
    return fig


def encoder_decoder(n_in=4, n_out=3):
    nodes, edges = {}, []
    for t in range(1, n_in + 1):
        nodes[f"x{t}"] = (1.3 * t, 0, f"$x_{t}$", "in")
        nodes[f"e{t}"] = (1.3 * t, 1.4, "enc", "op")
        edges.append((f"x{t}", f"e{t}"))
        if t > 1:
            edges.append((f"e{t - 1}", f"e{t}"))
    z = 1.3 * n_in + 1.6
    nodes["z"] = (z, 1.4, "code $Z$", "state")
    edges.append((f"e{n_in}", "z"))
    for t in range(1, n_out + 1):
        x = z + 1.4 * t
        nodes[f"d{t}"] = (x, 1.4 + 0.0, "dec", "op")
        nodes[f"y{t}"] = (x, 2.8, f"$\\hat y_{t}$", "out")
        edges += [(f"d{t}", f"y{t}"), ("z", f"d{t}", 0.35 if t > 1 else 0.0)]
        if t > 1:
            edges.append((f"d{t - 1}", f"d{t}"))
    return graph(nodes, edges, size=(9, 3.0))
