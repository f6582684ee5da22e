// SPDX-License-Identifier: GPL-2.0

#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/if_vlan.h>
#include <linux/ip.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <linux/u64_stats_sync.h>
#include <net/ip6_checksum.h>

#ifdef CONFIG_NET

/* net_device */

__rust_helper void *rust_helper_netdev_priv(const struct net_device *dev)
{
	return netdev_priv(dev);
}

__rust_helper void rust_helper_dev_hold(struct net_device *dev)
{
	dev_hold(dev);
}

__rust_helper void rust_helper_dev_put(struct net_device *dev)
{
	dev_put(dev);
}

__rust_helper void rust_helper_netdev_lock(struct net_device *dev)
{
	netdev_lock(dev);
}

__rust_helper void rust_helper_netdev_unlock(struct net_device *dev)
{
	netdev_unlock(dev);
}

__rust_helper bool rust_helper_netif_running(const struct net_device *dev)
{
	return netif_running(dev);
}

__rust_helper bool rust_helper_netif_carrier_ok(const struct net_device *dev)
{
	return netif_carrier_ok(dev);
}

/* TX queues and BQL */

__rust_helper struct netdev_queue *
rust_helper_netdev_get_tx_queue(const struct net_device *dev,
				unsigned int index)
{
	return netdev_get_tx_queue(dev, index);
}

__rust_helper void rust_helper_netif_tx_start_queue(struct netdev_queue *dev_queue)
{
	netif_tx_start_queue(dev_queue);
}

__rust_helper void rust_helper_netif_tx_stop_queue(struct netdev_queue *dev_queue)
{
	netif_tx_stop_queue(dev_queue);
}

__rust_helper bool
rust_helper_netif_tx_queue_stopped(const struct netdev_queue *dev_queue)
{
	return netif_tx_queue_stopped(dev_queue);
}

__rust_helper void rust_helper_netif_tx_start_all_queues(struct net_device *dev)
{
	netif_tx_start_all_queues(dev);
}

__rust_helper void rust_helper_netif_tx_wake_all_queues(struct net_device *dev)
{
	netif_tx_wake_all_queues(dev);
}

__rust_helper void rust_helper_netif_tx_disable(struct net_device *dev)
{
	netif_tx_disable(dev);
}

__rust_helper void rust_helper___netif_tx_lock_bh(struct netdev_queue *txq)
{
	__netif_tx_lock_bh(txq);
}

__rust_helper void rust_helper___netif_tx_unlock_bh(struct netdev_queue *txq)
{
	__netif_tx_unlock_bh(txq);
}

__rust_helper void rust_helper_netdev_tx_sent_queue(struct netdev_queue *dev_queue,
						    unsigned int bytes)
{
	netdev_tx_sent_queue(dev_queue, bytes);
}

__rust_helper void
rust_helper_netdev_tx_completed_queue(struct netdev_queue *dev_queue,
				      unsigned int pkts, unsigned int bytes)
{
	netdev_tx_completed_queue(dev_queue, pkts, bytes);
}

__rust_helper void rust_helper_netdev_tx_reset_queue(struct netdev_queue *q)
{
	netdev_tx_reset_queue(q);
}

/* NAPI */

__rust_helper void
rust_helper_netif_napi_add_weight(struct net_device *dev,
				  struct napi_struct *napi,
				  int (*poll)(struct napi_struct *, int),
				  int weight)
{
	netif_napi_add_weight(dev, napi, poll, weight);
}

__rust_helper void rust_helper_netif_napi_del(struct napi_struct *napi)
{
	netif_napi_del(napi);
}

__rust_helper bool rust_helper_napi_schedule(struct napi_struct *n)
{
	return napi_schedule(n);
}

__rust_helper gro_result_t rust_helper_napi_gro_receive(struct napi_struct *napi,
							struct sk_buff *skb)
{
	return napi_gro_receive(napi, skb);
}

/* Ethernet addresses */

__rust_helper void rust_helper_eth_random_addr(u8 *addr)
{
	eth_random_addr(addr);
}

__rust_helper void rust_helper_eth_hw_addr_set(struct net_device *dev,
					       const u8 *addr)
{
	eth_hw_addr_set(dev, addr);
}

__rust_helper void rust_helper_eth_hw_addr_random(struct net_device *dev)
{
	eth_hw_addr_random(dev);
}

/* sk_buff */

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

__rust_helper void rust_helper_u64_stats_init(struct u64_stats_sync *syncp)
{
	u64_stats_init(syncp);
}

__rust_helper void
rust_helper_u64_stats_update_begin(struct u64_stats_sync *syncp)
{
	u64_stats_update_begin(syncp);
}

__rust_helper void rust_helper_u64_stats_update_end(struct u64_stats_sync *syncp)
{
	u64_stats_update_end(syncp);
}

__rust_helper unsigned int
rust_helper_u64_stats_fetch_begin(const struct u64_stats_sync *syncp)
{
	return u64_stats_fetch_begin(syncp);
}

__rust_helper bool
rust_helper_u64_stats_fetch_retry(const struct u64_stats_sync *syncp,
				  unsigned int start)
{
	return u64_stats_fetch_retry(syncp, start);
}

__rust_helper u64 rust_helper_u64_stats_read(const u64_stats_t *p)
{
	return u64_stats_read(p);
}

__rust_helper void rust_helper_u64_stats_add(u64_stats_t *p, unsigned long val)
{
	u64_stats_add(p, val);
}

__rust_helper dma_addr_t rust_helper_dma_map_single_attrs(struct device *dev,
							    void *ptr, size_t size,
							    enum dma_data_direction dir,
							    unsigned long attrs)
{
	return dma_map_single_attrs(dev, ptr, size, dir, attrs);
}

__rust_helper void rust_helper_dma_unmap_single_attrs(struct device *dev,
						       dma_addr_t addr,
						       size_t size,
						       enum dma_data_direction dir,
						       unsigned long attrs)
{
	dma_unmap_single_attrs(dev, addr, size, dir, attrs);
}

__rust_helper int rust_helper_dma_mapping_error(struct device *dev,
						dma_addr_t dma_addr)
{
	return dma_mapping_error(dev, dma_addr);
}

/* Fragments and checksum state of an skb, for drivers mapping packets. */

__rust_helper unsigned int rust_helper_skb_shinfo_nr_frags(const struct sk_buff *skb)
{
	return skb_shinfo(skb)->nr_frags;
}

__rust_helper unsigned int rust_helper_skb_shinfo_frag_size(const struct sk_buff *skb,
							     unsigned int i)
{
	return skb_frag_size(&skb_shinfo(skb)->frags[i]);
}

/* Maps fragment @i for @dev; net_iov (device memory) fragments are refused. */
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

/* priv_flags is a bitfield in a struct_group. */
__rust_helper void rust_helper_netdev_priv_flags_set(struct net_device *dev,
						     unsigned int flags)
{
	dev->priv_flags |= flags;
}

__rust_helper void rust_helper_netdev_priv_flags_clear(struct net_device *dev,
						       unsigned int flags)
{
	dev->priv_flags &= ~flags;
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

__rust_helper void rust_helper___vlan_hwaccel_put_tag(struct sk_buff *skb,
						       __be16 vlan_proto,
						       u16 vlan_tci)
{
	__vlan_hwaccel_put_tag(skb, vlan_proto, vlan_tci);
}

__rust_helper bool rust_helper___netdev_tx_sent_queue(struct netdev_queue *dev_queue,
						     unsigned int bytes, bool xmit_more)
{
	return __netdev_tx_sent_queue(dev_queue, bytes, xmit_more);
}

__rust_helper bool rust_helper_netdev_xmit_more(void)
{
	return netdev_xmit_more();
}

#endif /* CONFIG_NET */
