class SimpleRNN(nn.Module):
    """h_t = tanh(W_xh x_t + W_hh h_{t-1} + b), one step at a time."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.W_xh = nn.Linear(input_size, hidden_size)
        self.W_hh = nn.Linear(hidden_size, hidden_size)

    def forward(self, x, h=None):
        batch_size, seq_len, _ = x.shape
        if h is None:
            h = torch.zeros(batch_size, self.hidden_size, device=x.device)
        outputs = []
        for t in range(seq_len):
            h = torch.tanh(self.W_xh(x[:, t]) + self.W_hh(h))
            outputs.append(h)
        return torch.stack(outputs, dim=1), h


rnn = SimpleRNN(input_size=32, hidden_size=64).to(device)
x = torch.randn(4, 10, 32).to(device)  # batch=4, seq=10, features=32
out, h_final = rnn(x)
print(f"Input:        {x.shape}")
print(f"Output:       {out.shape}")
print(f"Final hidden: {h_final.shape}")
