"""Evaluation of frozen embeddings."""
from .adam_probe import adam_linear_probe
from .clustering import cluster, clustering_accuracy, score_clusters
from .graph_cls import svm_cross_validation
from .knn import knn_probe
from .linear import linear_probe
from .multilabel import multilabel_probe
from .node_probe import NODE_PROBES, node_probe
from .next_frame import next_frame_probe, next_frame_windows
from .link_prediction import EdgeSplit, LinkSplit, link_prediction_scores, split_edges

__all__ = ["linear_probe", "adam_linear_probe", "node_probe", "NODE_PROBES", "multilabel_probe",
           "next_frame_probe", "next_frame_windows", "knn_probe", "cluster",
           "clustering_accuracy", "score_clusters", "svm_cross_validation",
           "split_edges", "link_prediction_scores", "LinkSplit", "EdgeSplit"]
