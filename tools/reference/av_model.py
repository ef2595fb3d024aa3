"""The official AVClassifier (GeWu-Lab/MMPareto_ICML2024, code/models/) transcribed
for the fixture scripts, with a `width` knob (64 in the paper) so that fixtures of
the full architecture stay small, and the OGM-GE fusion modules as `head`."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, in_channels, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        planes, layers = width, []
        for stage in range(4):
            out = width << stage
            layers.append(nn.Sequential(BasicBlock(planes, out, 1 if stage == 0 else 2), BasicBlock(out, out)))
            planes = out
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, mean=1, std=0.02)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class ConcatHead(nn.Linear):
    def fuse(self, a, v):
        return self(torch.cat((a, v), 1))


class SumHead(nn.Module):
    def __init__(self, dim, classes):
        super().__init__()
        self.fc_x, self.fc_y = nn.Linear(dim, classes), nn.Linear(dim, classes)

    def fuse(self, a, v):
        return self.fc_x(a) + self.fc_y(v)


class FiLMHead(nn.Module):
    def __init__(self, dim, classes):
        super().__init__()
        self.dim = dim
        self.fc, self.fc_out = nn.Linear(dim, 2 * dim), nn.Linear(dim, classes)

    def fuse(self, a, v):
        gamma, beta = torch.split(self.fc(a), self.dim, 1)
        return self.fc_out(gamma * v + beta)


class GatedHead(nn.Module):
    def __init__(self, dim, classes):
        super().__init__()
        self.fc_x, self.fc_y, self.fc_out = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, classes)

    def fuse(self, a, v):
        return self.fc_out(torch.sigmoid(self.fc_x(a)) * self.fc_y(v))


class AVClassifier(nn.Module):
    def __init__(self, classes=6, width=64, fusion="concat"):
        super().__init__()
        self.audio_net = ResNet18(1, width)
        self.visual_net = ResNet18(3, width)
        dim = 8 * width
        self.head = {"concat": lambda: ConcatHead(2 * dim, classes), "sum": lambda: SumHead(dim, classes),
                     "film": lambda: FiLMHead(dim, classes), "gated": lambda: GatedHead(dim, classes)}[fusion]()
        self.head_audio = nn.Linear(dim, classes)
        self.head_video = nn.Linear(dim, classes)

    def forward(self, audio, visual):
        a = self.audio_net(audio)
        b, t = visual.shape[:2]
        v = self.visual_net(visual.reshape(b * t, *visual.shape[2:]))
        _, c, h, w = v.shape
        v = v.view(b, -1, c, h, w).permute(0, 2, 1, 3, 4)
        a = torch.flatten(F.adaptive_avg_pool2d(a, 1), 1)
        v = torch.flatten(F.adaptive_avg_pool3d(v, 1), 1)
        return self.head.fuse(a, v), self.head_audio(a), self.head_video(v)


def objective_losses(out, out_a, out_v, label):
    """The three objectives mmp's TrainStep names: the multimodal head and one per modality."""
    return {"mm": F.cross_entropy(out, label), "audio": F.cross_entropy(out_a, label),
            "visual": F.cross_entropy(out_v, label)}
