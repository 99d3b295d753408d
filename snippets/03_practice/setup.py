import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
