"""
Training: every artifact the strategies need, from one labelled dataset.

Datasets (``dataset``), temperature scaling (``calibration``), the joint fine-tuning of the
backbone and its heads (``text_training``), the image BranchyNet (``image_training``), and
``training.train`` behind ``adaptive-nlp train``.
"""
