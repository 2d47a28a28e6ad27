"""Does cutting dev streams into 30 s segments with 3 s of warm-up (how training scores epochs)
give other misses than one continuous stream (the runtime)?  Both through onnxruntime."""
import sys, time
import numpy as np
from kws.eval.benchmark import benchmark_for
from kws.eval.scoring import ScoredStream, THRESHOLDS, curve, miss_at_fa, sweep_streams
from kws.filemode import run_audio
from kws.model import KeywordModel
from kws.spotter import Spotter
from kws.trigger import TriggerParams

path = sys.argv[1]
bench = benchmark_for("../shared/data", "alexa", "dev")
model = KeywordModel(path, stage="gru")
sp = Spotter([model])
clock = model.detector_clock
SEG, WARM, STEP = 1000, 100, clock.step_samples
def probs_cont(a):
    sp.reset(); _, (p,) = run_audio(sp, a, tail_pad_s=0); return p
def probs_seg(a):
    n = len(probs_cont(a)) if False else None
    out = []
    k = 0
    while k * SEG * STEP < len(a):
        lo = max(0, (k * SEG - WARM) * STEP); hi = min(len(a), (k + 1) * SEG * STEP)
        sp.reset(); _, (p,) = run_audio(sp, a[lo:hi], tail_pad_s=0)
        skip = (k * SEG * STEP - lo) // STEP
        out.append(p[skip:skip + SEG]); k += 1
    return np.concatenate(out)
params = lambda th: TriggerParams(threshold=th, consecutive=model.meta.consecutive, refractory_steps=clock.steps_in(1.5))
for name, f in (("continuous", probs_cont), ("segmented", probs_seg)):
    t = time.time(); streams = []
    for n, g, s in bench.streams:
        p = f(s.audio)
        streams.append(ScoredStream(n, g, p, clock.step_end_time(np.arange(len(p))), s.labels, s.hours))
    c = curve(sweep_streams(streams, THRESHOLDS[THRESHOLDS >= 0.5], params))
    print(path, name, {fa: round(miss_at_fa(c, fa)[0], 4) for fa in (0.1, 0.5, 1, 2)}, f"{time.time()-t:.0f}s", flush=True)
