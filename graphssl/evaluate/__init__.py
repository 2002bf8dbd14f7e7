"""Evaluation of frozen embeddings."""
from .clustering import cluster, clustering_accuracy
from .graph_cls import svm_cross_validation
from .knn import knn_probe
from .linear import linear_probe

__all__ = ["linear_probe", "knn_probe", "cluster", "clustering_accuracy",
           "svm_cross_validation"]
