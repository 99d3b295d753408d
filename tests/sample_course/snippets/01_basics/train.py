inputs = torch.randn(16, 3).to(device)
targets = torch.randn(16, 2).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
losses = []
for step in range(5):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(inputs), targets)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    print(f"step {step}: loss {loss.item():.4f}")
