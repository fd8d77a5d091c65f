"""speechlang.vision: CNN image classification.

Formats (`idx`, `npz`, `png`, `pnm`), labelled image sets (`data`), preprocessing and
augmentation on the device (`preprocess`, `augment`), the model registry (`registry`, with
`lenet`, `lenet-local`, `lenet-tiled` and `resnet`; unshared convolutions in `layers`),
training on the shared loop (`train`), evaluation (`evaluate`), prediction (`predict`),
compression (`compress`) and cascade inference (`cascade`).

    from speechlang.vision.train import train, VisionTrainConfig, load_model
"""
