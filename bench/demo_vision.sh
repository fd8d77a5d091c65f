# speechlang vision end to end on the Fashion-MNIST sample in tests/fixtures/vision (under a minute):
# train a LeNet, evaluate it (confusion matrix as text and PNG), label image files, quantize it.
# Run by `make demo` with SL (the speechlang binary) and OUT (an output directory) set.
F=tests/fixtures/vision
mkdir -p "$OUT/vision"
$SL --quiet vision train --train $F/fashion1k-images-idx3-ubyte.gz -o "$OUT/vision/lenet" --arch lenet \
    --class-names $F/fashion-classes.txt --epochs 4 --valid 100 --warmup-steps 0
$SL vision eval -m "$OUT/vision/lenet" -d $F/fashion200-images-idx3-ubyte.gz \
    --confusion-png "$OUT/vision/confusion.png"
$SL vision predict -m "$OUT/vision/lenet" $F/images/*.png $F/images/*.pgm --top-k 2
$SL vision compress quantize -m "$OUT/vision/lenet" -d $F/fashion200-images-idx3-ubyte.gz -o "$OUT/vision/int8"
