// SPDX-License-Identifier: GPL-2.0

#include <linux/mm.h>
#include <linux/skbuff.h>
#include <net/page_pool/helpers.h>

__rust_helper void *rust_helper_page_address(const struct page *page)
{
	return page_address(page);
}

__rust_helper struct page *rust_helper_netmem_to_page(netmem_ref netmem)
{
	return netmem_to_page(netmem);
}

__rust_helper dma_addr_t rust_helper_page_pool_get_dma_addr(const struct page *page)
{
	return page_pool_get_dma_addr(page);
}

__rust_helper void rust_helper_page_pool_dma_sync_for_cpu(const struct page_pool *pool,
							  const struct page *page,
							  u32 offset, u32 dma_sync_size)
{
	page_pool_dma_sync_for_cpu(pool, page, offset, dma_sync_size);
}

__rust_helper void rust_helper_page_pool_put_full_page(struct page_pool *pool,
						       struct page *page,
						       bool allow_direct)
{
	page_pool_put_full_page(pool, page, allow_direct);
}

__rust_helper void rust_helper_skb_reserve(struct sk_buff *skb, int len)
{
	skb_reserve(skb, len);
}

__rust_helper void *rust_helper___skb_put(struct sk_buff *skb, unsigned int len)
{
	return __skb_put(skb, len);
}

__rust_helper void rust_helper_skb_mark_for_recycle(struct sk_buff *skb)
{
	skb_mark_for_recycle(skb);
}

__rust_helper void rust_helper_skb_add_rx_frag(struct sk_buff *skb, int i,
					       struct page *page, int off,
					       int size, unsigned int truesize)
{
	skb_add_rx_frag(skb, i, page, off, size, truesize);
}

__rust_helper void rust_helper_dma_sync_single_range_for_device(struct device *dev,
								dma_addr_t addr,
								unsigned long offset,
								size_t size,
								enum dma_data_direction dir)
{
	dma_sync_single_range_for_device(dev, addr, offset, size, dir);
}

__rust_helper struct page_pool *rust_helper_page_pool_of(struct page *page)
{
	return __netmem_get_pp(page_to_netmem(page));
}
