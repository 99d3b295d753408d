class GRUCellFromScratch(nn.Module):
    """One GRU step, written from the equations, with nn.GRU's parameter layout (r, z, n)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.W_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.W_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.b_ih = nn.Parameter(torch.empty(3 * hidden_size))
        self.b_hh = nn.Parameter(torch.empty(3 * hidden_size))

    def forward(self, x_t, h_prev):
        x_r, x_z, x_n = (x_t @ self.W_ih.T + self.b_ih).chunk(3, dim=1)
        h_r, h_z, h_n = (h_prev @ self.W_hh.T + self.b_hh).chunk(3, dim=1)
        r_t = torch.sigmoid(x_r + h_r)  # reset gate
        z_t = torch.sigmoid(x_z + h_z)  # update gate
        n_t = torch.tanh(x_n + r_t * h_n)  # candidate state
        return (1 - z_t) * n_t + z_t * h_prev


gru = nn.GRU(input_size=32, hidden_size=64, batch_first=True).to(device)
cell = GRUCellFromScratch(32, 64).to(device)
with torch.no_grad():  # the same weights as nn.GRU
    cell.W_ih.copy_(gru.weight_ih_l0)
    cell.W_hh.copy_(gru.weight_hh_l0)
    cell.b_ih.copy_(gru.bias_ih_l0)
    cell.b_hh.copy_(gru.bias_hh_l0)

x = torch.randn(4, 10, 32).to(device)
h = torch.zeros(4, 64, device=device)
steps = []
for t in range(x.size(1)):
    h = cell(x[:, t], h)
    steps.append(h)
ours = torch.stack(steps, dim=1)
reference, h_n = gru(x)
max_diff = (ours - reference).abs().max().item()
matches = torch.allclose(ours, reference, atol=1e-4)
print(f"From scratch: {tuple(ours.shape)}, nn.GRU: {tuple(reference.shape)}")
print(f"Largest difference: {max_diff:.1e}; matches nn.GRU within 1e-4: {matches}")

layer_params = {name: sum(p.numel() for p in layer(32, 64).parameters())
                for name, layer in (("RNN", nn.RNN), ("GRU", nn.GRU), ("LSTM", nn.LSTM))}
print("\nParameters of one layer, input 32, hidden 64")
for name, count in layer_params.items():
    print(f"  {name:<4} {count:>6,}  ({count / layer_params['RNN']:.0f}x the RNN)")
