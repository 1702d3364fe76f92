# torchvision architectures as PyTorch's exporter writes them, for `bench file` (speed against ONNX Runtime) and the
# command sweeps in the README. Untrained weights (no pretrained ones are reachable from the build machines): the batch
# norm statistics get a few batches of noise so activations stay in range. Debian's python3-torch 1.13 / torchvision 0.14.
#   python3 export-torchvision.py OUT_DIR [name …]      (default: every name below)
import sys, os, torch, torchvision.models as m
torch.manual_seed(0)
nets = {
    'resnet50': (m.resnet50, 224, 13), 'mobilenet_v2': (m.mobilenet_v2, 224, 13), 'mobilenet_v3_small': (m.mobilenet_v3_small, 224, 13),
    'efficientnet_b0': (m.efficientnet_b0, 224, 13), 'squeezenet1_1': (m.squeezenet1_1, 224, 13), 'densenet121': (m.densenet121, 224, 13),
    'shufflenet_v2_x0_5': (m.shufflenet_v2_x0_5, 224, 13), 'regnet_y_400mf': (m.regnet_y_400mf, 224, 13), 'mnasnet0_5': (m.mnasnet0_5, 224, 13),
    'googlenet': (lambda: m.googlenet(aux_logits=False, init_weights=True), 224, 13), 'convnext_tiny': (m.convnext_tiny, 224, 13),
    'swin_t': (m.swin_t, 224, 14), 'vit_b_16': (m.vit_b_16, 224, 14), 'inception_v3': (lambda: m.inception_v3(aux_logits=False, init_weights=True), 299, 14),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name in sys.argv[2:] or nets:
    make, size, opset = nets[name]
    net = make().train()
    with torch.no_grad():
        for _ in range(3): net(torch.randn(4, 3, size, size))
    net.eval()
    torch.onnx.export(net, torch.randn(1, 3, size, size), os.path.join(out, f'{name}-op{opset}.onnx'), opset_version=opset,
                      input_names=['input'], output_names=['logits'], dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    print(name, 'written', flush=True)
