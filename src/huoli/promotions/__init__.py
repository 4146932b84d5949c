"""Promotions and social fission: coupons, 秒杀 flash sales, 拼团 group buys, 砍价 bargains, referrals, 分销."""
