"""A small pure-NumPy reference of the three layer kinds, written from the
equations (torch's docs), for the property-based tests: one sequence at a
time, one step at a time, float64."""
import numpy as np


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def cell_step(kind, p, x, h, c, nonlinearity="tanh"):
    """One step of one layer-direction for one sequence: p is that
    layer-direction's parameters {w_ih, w_hh, b_ih, b_hh, w_hr}."""
    gi = p["w_ih"] @ x + p["b_ih"]
    gh = p["w_hh"] @ h + p["b_hh"]
    if kind == "RNN":
        a = gi + gh
        return (np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)), None
    if kind == "GRU":
        H = h.shape[0]
        r = sigmoid(gi[:H] + gh[:H])
        z = sigmoid(gi[H:2 * H] + gh[H:2 * H])
        n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
        return (1 - z) * n + z * h, None
    H = c.shape[0]
    a = gi + gh
    i, f, g, o = sigmoid(a[:H]), sigmoid(a[H:2 * H]), np.tanh(a[2 * H:3 * H]), sigmoid(a[3 * H:])
    c = f * c + i * g
    m = o * np.tanh(c)
    return (p["w_hr"] @ m if "w_hr" in p else m), c


def layer_params(sd, k, d, bias):
    sfx = f"_l{k}" + ("_reverse" if d else "")
    p = {"w_ih": sd["weight_ih" + sfx], "w_hh": sd["weight_hh" + sfx]}
    G = p["w_ih"].shape[0]
    p["b_ih"] = sd["bias_ih" + sfx] if bias else np.zeros(G)
    p["b_hh"] = sd["bias_hh" + sfx] if bias else np.zeros(G)
    if "weight_hr" + sfx in sd:
        p["w_hr"] = sd["weight_hr" + sfx]
    return p


def forward(kind, sd, xs, h0=None, c0=None, num_layers=1, bidirectional=False,
            bias=True, nonlinearity="tanh"):
    """xs: a list of N sequences (L_n, I). Returns the list of outputs
    (L_n, D * P) and the final states (D * num_layers, N, P) (and c)."""
    D = 2 if bidirectional else 1
    P = sd["weight_hh_l0"].shape[1]
    H = sd["weight_hr_l0"].shape[1] if "weight_hr_l0" in sd else P
    N = len(xs)
    hn = np.zeros((D * num_layers, N, P))
    cn = np.zeros((D * num_layers, N, H))
    outs = []
    for n, x in enumerate(xs):
        inp = x
        for k in range(num_layers):
            layer_out = np.zeros((len(x), D * P))
            for d in range(D):
                p = layer_params(sd, k, d, bias)
                i = k * D + d
                h = h0[i, n].copy() if h0 is not None else np.zeros(P)
                c = c0[i, n].copy() if c0 is not None else np.zeros(H)
                steps = range(len(x) - 1, -1, -1) if d else range(len(x))
                for t in steps:
                    h, c2 = cell_step(kind, p, inp[t], h, c, nonlinearity)
                    c = c2 if c2 is not None else c
                    layer_out[t, d * P:(d + 1) * P] = h
                hn[i, n], cn[i, n] = h, c
            inp = layer_out
        outs.append(inp)
    return outs, hn, (cn if kind == "LSTM" else None)
