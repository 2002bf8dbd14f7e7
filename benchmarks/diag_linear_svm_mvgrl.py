"""Why is MVGRL's LinearSVC CV slow on IMDB-MULTI? Pretrain 3 epochs, then time single fits
of the dual and primal liblinear solvers on the standardised embeddings.

Usage: GRAPHSSL_MIRROR=../shared/datasets OMP_NUM_THREADS=1 python benchmarks/diag_linear_svm_mvgrl.py
"""
import os, time, warnings, torch, numpy as np
from sklearn.svm import LinearSVC
from sklearn.preprocessing import StandardScaler
from torch_geometric.loader import DataLoader
from graphssl.bench.config import method_config
from graphssl.methods import build_method
from graphssl.data import load_dataset, ensure_features
from graphssl.train import Trainer
warnings.filterwarnings("ignore")
ds = load_dataset('IMDB-MULTI', root=os.environ.get('GRAPHSSL_ROOT', 'datasets'), mirror=os.environ.get('GRAPHSSL_MIRROR'))
cfg = method_config('mvgrl-graph', 'IMDB-MULTI')
ds.transform = lambda d: ensure_features(d, max_degree=cfg['data'].get('max_degree', 64))
torch.manual_seed(0)
m = build_method('mvgrl-graph', ds.num_features, **cfg['model'])
t = time.time()
Trainer(epochs=3, lr=cfg['train']['lr'], progress=False).fit(m, DataLoader(ds, batch_size=cfg['data'].get('batch_size', 128), shuffle=True))
print('pretrain 3 epochs', time.time() - t, flush=True)
z = torch.cat([m.embed_graphs(b) for b in DataLoader(ds, batch_size=512)]).double().numpy()
y = np.array([int(d.y) for d in ds])
print('z', z.shape, 'scale', np.abs(z).mean(), 'rank', np.linalg.matrix_rank(z), flush=True)
zs = StandardScaler().fit_transform(z)[:1080]
for C in (0.001, 1, 1000):
    for dual in (True, False):
        t = time.time(); LinearSVC(C=C, dual=dual, random_state=0).fit(zs, y[:1080]); print(C, dual, round(time.time() - t, 2), flush=True)
