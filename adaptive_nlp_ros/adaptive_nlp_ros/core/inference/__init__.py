"""
Inference: the models, their execution modes, their costs, and the strategies that spend them.

``engine.TextEngine`` and ``image_engine.ImageEngine`` answer one command with any strategy
through the segment loop of ``segment_loop``; ``strategies/`` holds one small file per
strategy. The backbone (``text_backbone``, ``encoder_layers``, ``onnx_layers``), the exit
heads, the TF-IDF model and the pool (``variant_pool``) are loaded by ``text_models``;
``cost_profile`` and ``profiling`` say what each piece costs on this machine.
"""
