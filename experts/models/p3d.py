"""Pseudo-3D ResNet (Qiu et al., ICCV 2017) returning ``(features, logits)``.

Layer names follow the public ``p3d_model.py`` (``conv1_custom``, ``bn1``, ``layer1.0.conv2``... ``fc``, here
``classifier``), so the public checkpoints load by name.  Blocks cycle P3D-A, -B, -C in res2..res4 (1x3x3 spatial
+ 3x1x1 temporal convs: serial, parallel, serial with a skip); res5 is 2D.

Differences from the original forward, for 8-frame clips: the temporal max pools after res2..res4 are skipped
once only one frame is left (the original assumed 16 frames), and res5 runs per frame (time folded into the
batch, then averaged) instead of reshaping a one-frame tensor.  Pooling is adaptive (any input size).
"""

from __future__ import annotations

from torch import nn


class P3DBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, n_s=0, depth_3d=47, st_struc=("A", "B", "C")):
        super().__init__()
        self.downsample = downsample
        self.id = n_s
        self.depth_3d = depth_3d
        self.st = st_struc[n_s % len(st_struc)]
        self.relu = nn.ReLU(inplace=True)
        stride_p = stride if downsample is None else (1, 2, 2)
        if self.id < depth_3d:
            if self.id == 0:
                stride_p = 1
            self.conv1 = nn.Conv3d(inplanes, planes, kernel_size=1, bias=False, stride=stride_p)
            self.bn1 = nn.BatchNorm3d(planes)
            self.conv2 = nn.Conv3d(planes, planes, kernel_size=(1, 3, 3), padding=(0, 1, 1), bias=False)
            self.bn2 = nn.BatchNorm3d(planes)
            self.conv3 = nn.Conv3d(planes, planes, kernel_size=(3, 1, 1), padding=(1, 0, 0), bias=False)
            self.bn3 = nn.BatchNorm3d(planes)
            self.conv4 = nn.Conv3d(planes, planes * 4, kernel_size=1, bias=False)
            self.bn4 = nn.BatchNorm3d(planes * 4)
        else:
            stride_p = 2 if self.id == depth_3d else 1
            self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False, stride=stride_p)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv_normal = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
            self.bn_normal = nn.BatchNorm2d(planes)
            self.conv4 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
            self.bn4 = nn.BatchNorm2d(planes * 4)

    def _spatial(self, x):
        return self.relu(self.bn2(self.conv2(x)))

    def _temporal(self, x):
        return self.relu(self.bn3(self.conv3(x)))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        if self.id < self.depth_3d:
            if self.st == "A":  # serial: S then T
                out = self._temporal(self._spatial(out))
            elif self.st == "B":  # parallel: S + T
                out = self._spatial(out) + self._temporal(out)
            else:  # C: S, then T with a skip
                s = self._spatial(out)
                out = s + self._temporal(s)
        else:
            out = self.relu(self.bn_normal(self.conv_normal(out)))
        out = self.bn4(self.conv4(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


class P3D(nn.Module):
    """P3D ResNet returning ``(features, logits)``."""

    def __init__(
        self, layers, in_channels: int, num_outputs: int, *, base: int, dropout: float, st_struc=("A", "B", "C")
    ):
        super().__init__()
        self.inplanes = base
        self.depth_3d = sum(layers[:3])  # res2..res4 are 3D, res5 is 2D
        self.st_struc = st_struc
        self.conv1_custom = nn.Conv3d(
            in_channels, base, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False
        )
        self.bn1 = nn.BatchNorm3d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=(2, 3, 3), stride=2, padding=(0, 1, 1))
        self.maxpool_2 = nn.MaxPool3d(kernel_size=(2, 1, 1), stride=(2, 1, 1), padding=0)
        self.cnt = 0
        self.layer1 = self._make_layer(base, layers[0])
        self.layer2 = self._make_layer(base * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(base * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(base * 8, layers[3], stride=2)
        self.feature_dim = base * 8 * P3DBottleneck.expansion
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(self.feature_dim, num_outputs)
        for m in self.modules():
            if isinstance(m, (nn.Conv3d, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        out = planes * P3DBottleneck.expansion
        if self.cnt < self.depth_3d:
            stride_p = 1 if self.cnt == 0 else (1, 2, 2)
            if stride != 1 or self.inplanes != out:
                downsample = nn.Sequential(
                    nn.Conv3d(self.inplanes, out, kernel_size=1, stride=stride_p, bias=False), nn.BatchNorm3d(out)
                )
        elif stride != 1 or self.inplanes != out:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, out, kernel_size=1, stride=2, bias=False), nn.BatchNorm2d(out)
            )
        layers = [P3DBottleneck(self.inplanes, planes, stride, downsample, self.cnt, self.depth_3d, self.st_struc)]
        self.cnt += 1
        self.inplanes = out
        for _ in range(1, blocks):
            layers.append(
                P3DBottleneck(self.inplanes, planes, n_s=self.cnt, depth_3d=self.depth_3d, st_struc=self.st_struc)
            )
            self.cnt += 1
        return nn.Sequential(*layers)

    def _tpool(self, x):
        return self.maxpool_2(x) if x.shape[2] >= 2 else x

    def forward(self, x):  # [B, C, L, H, W]
        x = self.relu(self.bn1(self.conv1_custom(x)))
        x = self.maxpool(x) if x.shape[2] >= 2 else nn.functional.max_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1))
        x = self._tpool(self.layer1(x))
        x = self._tpool(self.layer2(x))
        x = self._tpool(self.layer3(x))
        b, c, t, h, w = x.shape
        x = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)  # res5 is 2D: frames folded into the batch
        x = self.layer4(x)
        features = x.mean(dim=(2, 3)).view(b, t, -1).mean(dim=1)
        return features, self.classifier(self.dropout(features))
