// SPDX-License-Identifier: GPL-2.0

#include <linux/dma-mapping.h>
#include <linux/skbuff.h>

#ifdef CONFIG_NET

__rust_helper void rust_helper_dev_kfree_skb_any(struct sk_buff *skb)
{
	dev_kfree_skb_any(skb);
}

__rust_helper void rust_helper_dev_consume_skb_any(struct sk_buff *skb)
{
	dev_consume_skb_any(skb);
}

__rust_helper int rust_helper_skb_shared(const struct sk_buff *skb)
{
	return skb_shared(skb);
}

__rust_helper int rust_helper_skb_cloned(const struct sk_buff *skb)
{
	return skb_cloned(skb);
}

__rust_helper bool rust_helper_skb_clone_writable(const struct sk_buff *skb,
						  unsigned int len)
{
	return skb_clone_writable(skb, len);
}

__rust_helper int rust_helper_skb_tailroom(const struct sk_buff *skb)
{
	return skb_tailroom(skb);
}

__rust_helper void *rust_helper_skb_put_data(struct sk_buff *skb,
					     const void *data, unsigned int len)
{
	return skb_put_data(skb, data, len);
}

__rust_helper bool rust_helper_pskb_may_pull(struct sk_buff *skb,
					     unsigned int len)
{
	return pskb_may_pull(skb, len);
}

__rust_helper void rust_helper_skb_queue_head_init(struct sk_buff_head *list)
{
	skb_queue_head_init(list);
}

__rust_helper __u32
rust_helper_skb_queue_len_lockless(const struct sk_buff_head *list_)
{
	return skb_queue_len_lockless(list_);
}

__rust_helper unsigned int rust_helper_skb_shinfo_nr_frags(const struct sk_buff *skb)
{
	return skb_shinfo(skb)->nr_frags;
}

__rust_helper unsigned int rust_helper_skb_shinfo_frag_size(const struct sk_buff *skb,
							    unsigned int i)
{
	return skb_frag_size(&skb_shinfo(skb)->frags[i]);
}

__rust_helper dma_addr_t
rust_helper_skb_shinfo_frag_dma_map(struct device *dev, const struct sk_buff *skb,
				    unsigned int i, enum dma_data_direction dir)
{
	const skb_frag_t *frag = &skb_shinfo(skb)->frags[i];

	if (skb_frag_is_net_iov(frag))
		return DMA_MAPPING_ERROR;
	return dma_map_page(dev, skb_frag_page(frag), skb_frag_off(frag),
			    skb_frag_size(frag), dir);
}

__rust_helper u8 rust_helper_skb_get_ip_summed(const struct sk_buff *skb)
{
	return skb->ip_summed;
}

__rust_helper u16 rust_helper_skb_get_csum_offset(const struct sk_buff *skb)
{
	return skb->csum_offset;
}

__rust_helper int rust_helper_skb_checksum_start_offset(const struct sk_buff *skb)
{
	return skb_checksum_start_offset(skb);
}

__rust_helper void rust_helper_skb_tx_timestamp(struct sk_buff *skb)
{
	skb_tx_timestamp(skb);
}

__rust_helper unsigned short rust_helper_skb_shinfo_gso_size(const struct sk_buff *skb)
{
	return skb_shinfo(skb)->gso_size;
}

__rust_helper unsigned int rust_helper_skb_shinfo_gso_type(const struct sk_buff *skb)
{
	return skb_shinfo(skb)->gso_type;
}

__rust_helper int rust_helper_skb_cow_head(struct sk_buff *skb, unsigned int headroom)
{
	return skb_cow_head(skb, headroom);
}

__rust_helper int rust_helper_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
}

__rust_helper int rust_helper_skb_transport_offset(const struct sk_buff *skb)
{
	return skb_transport_offset(skb);
}

__rust_helper void rust_helper_skb_set_csum_unnecessary(struct sk_buff *skb)
{
	skb->ip_summed = CHECKSUM_UNNECESSARY;
}

__rust_helper void rust_helper_skb_set_network_header(struct sk_buff *skb, const int offset)
{
	skb_set_network_header(skb, offset);
}

#endif /* CONFIG_NET */
