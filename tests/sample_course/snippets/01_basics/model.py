model = nn.Linear(3, 2).to(device)
params = sum(p.numel() for p in model.parameters())
print(f"parameters: {params:,}")
