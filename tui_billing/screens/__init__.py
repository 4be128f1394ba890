"""One module per screen: charge entry (F2), receipts queue (F3), balancing (F4), help (F1)."""
