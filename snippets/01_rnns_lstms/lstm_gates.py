cell = nn.LSTMCell(input_size=32, hidden_size=64).to(device)
x_t = torch.randn(4, 32).to(device)
h_prev = torch.randn(4, 64).to(device)
c_prev = torch.randn(4, 64).to(device)

# PyTorch stacks the gate weights as [input, forget, candidate, output].
gates = x_t @ cell.weight_ih.T + cell.bias_ih + h_prev @ cell.weight_hh.T + cell.bias_hh
i_t, f_t, g_t, o_t = gates.chunk(4, dim=1)
i_t, f_t, o_t = torch.sigmoid(i_t), torch.sigmoid(f_t), torch.sigmoid(o_t)
c_tilde = torch.tanh(g_t)
c_t = f_t * c_prev + i_t * c_tilde
h_t = o_t * torch.tanh(c_t)

h_ref, c_ref = cell(x_t, (h_prev, c_prev))
max_diff = max((h_t - h_ref).abs().max().item(), (c_t - c_ref).abs().max().item())
print(f"gate shapes: i {tuple(i_t.shape)}, f {tuple(f_t.shape)}, o {tuple(o_t.shape)}")
print(f"mean gate values: input {i_t.mean():.3f}, forget {f_t.mean():.3f}, output {o_t.mean():.3f}")
print(f"largest difference from nn.LSTMCell: {max_diff:.1e}")
print("matches nn.LSTMCell within 1e-4:", torch.allclose(h_t, h_ref, atol=1e-4) and torch.allclose(c_t, c_ref, atol=1e-4))
