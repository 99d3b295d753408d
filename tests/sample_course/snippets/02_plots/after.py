print("the inner sizes must agree:", a.shape[1], "vs", b.shape[0])
