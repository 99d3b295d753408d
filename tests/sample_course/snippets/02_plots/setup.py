import warnings

import matplotlib.pyplot as plt
import torch
