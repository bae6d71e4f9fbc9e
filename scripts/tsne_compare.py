# scikit-learn's t-SNE on the same rows `w2v-gpu map --method tsne --top N --skip S` plots
# (unit vectors, perplexity 30, PCA start, learning_rate="auto", 1,000 iterations); prints
# its final KL divergence and time, to set beside the KL in the title of w2v-gpu's plot.
#
#   python3 scripts/tsne_compare.py VECTORS.bin N S exact|barnes_hut   (needs gensim, scikit-learn)
import sys, time, numpy as np
from gensim.models import KeyedVectors
from sklearn.manifold import TSNE
path, top, skip, method = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
kv = KeyedVectors.load_word2vec_format(path, binary=True)
x = kv.vectors[skip:skip + top].astype(np.float64)
x /= np.linalg.norm(x, axis=1, keepdims=True)
t = time.time()
ts = TSNE(n_components=2, perplexity=30, init="pca", learning_rate="auto", method=method, random_state=0, max_iter=1000)
ts.fit_transform(x)
print(f"sklearn {method}: KL {ts.kl_divergence_:.4f}, {time.time() - t:.1f} s")
