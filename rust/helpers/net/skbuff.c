// SPDX-License-Identifier: GPL-2.0

#include <linux/dma-mapping.h>
#include <linux/if_vlan.h>
#include <linux/ip.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/ip6_checksum.h>

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

/* u64_stats_sync (u64_stats_init() is a macro on 32-bit kernels) */

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

/*
 * Prepares a TCP GSO packet for hardware segmentation, as drivers with a
 * TCP/IP context descriptor do (e1000_tso()): unshares the headers, clears the
 * IPv4 total length and header checksum, and seeds the TCP checksum with the
 * pseudo-header sum without length. Fills @f with: network offset, IPv4
 * checksum offset (0 for IPv6), IPv4 header end (0 for IPv6), transport
 * offset, TCP checksum offset, length of all headers, MSS, payload length.
 * Returns 0 if @skb is not GSO, 4 or 6 for the IP version, or an errno (also
 * for GSO types other than TCP).
 */

__rust_helper int rust_helper_skb_tso_prepare(struct sk_buff *skb, u32 *f)
{
	__be16 proto = vlan_get_protocol(skb);
	int err;

	if (!skb_is_gso(skb))
		return 0;
	/* Only TCP can be segmented by a TCP/IP context; never send UDP GSO whole. */
	if (!(skb_shinfo(skb)->gso_type & (SKB_GSO_TCPV4 | SKB_GSO_TCPV6)))
		return -EINVAL;
	err = skb_cow_head(skb, 0);
	if (err < 0)
		return err;
	f[0] = skb_network_offset(skb);
	f[3] = skb_transport_offset(skb);
	f[4] = (void *)&tcp_hdr(skb)->check - (void *)skb->data;
	f[5] = skb_tcp_all_headers(skb);
	f[6] = skb_shinfo(skb)->gso_size;
	f[7] = skb->len - f[5];
	if (proto == htons(ETH_P_IP)) {
		struct iphdr *iph = ip_hdr(skb);

		iph->tot_len = 0;
		iph->check = 0;
		tcp_hdr(skb)->check = ~csum_tcpudp_magic(iph->saddr, iph->daddr,
							 0, IPPROTO_TCP, 0);
		f[1] = (void *)&iph->check - (void *)skb->data;
		f[2] = skb_transport_offset(skb) - 1;
		return 4;
	}
	if (proto == htons(ETH_P_IPV6) && skb_is_gso_v6(skb)) {
		tcp_v6_gso_csum_prep(skb);
		f[1] = 0;
		f[2] = 0;
		return 6;
	}
	return -EINVAL;
}

__rust_helper void rust_helper_skb_set_csum_unnecessary(struct sk_buff *skb)
{
	skb->ip_summed = CHECKSUM_UNNECESSARY;
}

#endif /* CONFIG_NET */
