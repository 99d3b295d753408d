x = torch.randn(4, 3)
print("x:", x.shape)
x.sum(dim=0).shape
