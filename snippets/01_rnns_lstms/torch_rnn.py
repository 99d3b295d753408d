rnn = nn.RNN(input_size=32, hidden_size=64, num_layers=2, batch_first=True, bidirectional=False).to(device)

x = torch.randn(4, 10, 32).to(device)
h0 = torch.zeros(2, 4, 64, device=device)  # (num_layers, batch, hidden)
out, h_n = rnn(x, h0)
print(f"Input:  {x.shape}")
print(f"Output: {out.shape}")
print(f"h_n:    {h_n.shape}")
print(f"Parameters: {sum(p.numel() for p in rnn.parameters()):,}")
