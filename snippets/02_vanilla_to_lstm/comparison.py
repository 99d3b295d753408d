class RNNComparison(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, rnn_type="LSTM"):
        super().__init__()
        self.rnn_type = rnn_type
        layer = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[rnn_type]
        self.rnn = layer(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        _, hidden = self.rnn(x)
        if self.rnn_type == "LSTM":
            hidden = hidden[0]  # an LSTM returns (h_n, c_n)
        return self.fc(hidden[-1])


kinds = ("RNN", "LSTM", "GRU")
models = {kind: RNNComparison(32, 64, 2, kind).to(device) for kind in kinds}
param_counts = {kind: sum(p.numel() for p in model.parameters()) for kind, model in models.items()}
print("Parameters (input 32, hidden 64, 2 classes)")
for kind, count in param_counts.items():
    print(f"  {kind:<4} {count:>7,}")

x = torch.randn(16, 100, 32).to(device)
print(f"\nForward pass on {tuple(x.shape)}")
output_shapes = {}
for kind, model in models.items():
    output_shapes[kind] = tuple(model(x).shape)
    print(f"  {kind:<4} -> {output_shapes[kind]}")


def create_memory_task(seq_len=50, batch_size=32, features=1):
    """Label each sequence by the sign of its very first input; everything after is noise."""
    x = torch.randn(batch_size, seq_len, features).to(device)
    y = (x[:, 0, 0] > 0).long()
    return x, y


# The memory task has one feature per step, so its models are built for input_size=1.
memory_models = {kind: RNNComparison(1, 64, 2, kind).to(device) for kind in kinds}
x_mem, y_mem = create_memory_task(seq_len=50, batch_size=32)
print(f"\nGradients on the memory task, input {tuple(x_mem.shape)}")
grad_norms = {}
for kind, model in memory_models.items():
    model.zero_grad()
    loss = F.cross_entropy(model(x_mem), y_mem)
    loss.backward()
    grad_norms[kind] = torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters())).item()
    print(f"  {kind:<4} loss {loss.item():.4f}, gradient norm {grad_norms[kind]:.4f}")
