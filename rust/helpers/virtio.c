// SPDX-License-Identifier: GPL-2.0

#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

__rust_helper bool rust_helper___virtio_test_bit(const struct virtio_device *vdev,
						 unsigned int fbit)
{
	return __virtio_test_bit(vdev, fbit);
}

__rust_helper void rust_helper___virtio_clear_bit(struct virtio_device *vdev, unsigned int fbit)
{
	__virtio_clear_bit(vdev, fbit);
}

__rust_helper void rust_helper_virtio_cread_bytes(struct virtio_device *vdev,
						  unsigned int offset, void *buf, size_t len)
{
	virtio_cread_bytes(vdev, offset, buf, len);
}

__rust_helper void rust_helper_virtio_device_ready(struct virtio_device *vdev)
{
	virtio_device_ready(vdev);
}

__rust_helper int rust_helper_virtio_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
					      struct virtqueue *vqs[],
					      struct virtqueue_info vqs_info[],
					      struct irq_affinity *desc)
{
	return virtio_find_vqs(vdev, nvqs, vqs, vqs_info, desc);
}

__rust_helper void rust_helper_virtio_del_vqs(struct virtio_device *vdev)
{
	vdev->config->del_vqs(vdev);
}

__rust_helper void rust_helper_virtio_synchronize_cbs(struct virtio_device *vdev)
{
	virtio_synchronize_cbs(vdev);
}

#ifdef CONFIG_NET
__rust_helper int rust_helper_virtio_net_hdr_from_skb(const struct sk_buff *skb,
						      struct virtio_net_hdr *hdr,
						      bool little_endian, bool has_data_valid,
						      int vlan_hlen)
{
	return virtio_net_hdr_from_skb(skb, hdr, little_endian, has_data_valid, vlan_hlen);
}

__rust_helper int rust_helper_virtio_net_hdr_to_skb(struct sk_buff *skb,
						    const struct virtio_net_hdr *hdr,
						    bool little_endian)
{
	return virtio_net_hdr_to_skb(skb, hdr, little_endian);
}

__rust_helper int rust_helper_virtio_net_handle_csum_offload(struct sk_buff *skb,
							     struct virtio_net_hdr *hdr,
							     bool tnl_csum_negotiated)
{
	return virtio_net_handle_csum_offload(skb, hdr, tnl_csum_negotiated);
}

#endif /* CONFIG_NET */
